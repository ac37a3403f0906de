# Freeze the agent on Windows into dist\chit-agent\ (PyInstaller, the same spec as
# scripts/build-agent.sh) and, with -Installer, compile dist\chit-agent-setup.exe with NSIS.
#
# Usage: powershell -File scripts\build-agent.ps1 [-Version 1.2.3] [-NoTray] [-Installer]
# The folder holds chit-agent.exe (the command line), chit-agent-tray.exe (the tray, no
# console) and chit-agent-service.exe (the Windows service, agent/winservice.py), one version.
param(
    [string]$Version = "",
    [switch]$NoTray,
    [switch]$Installer
)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)

if (-not (Test-Path .venv\Scripts\python.exe)) {
    py -3.11 -m venv .venv
    if ($LASTEXITCODE -ne 0) { throw "creating .venv failed (Python 3.11 from python.org?)" }
}
.venv\Scripts\python.exe -m pip install --quiet -e ".[build]"
if ($LASTEXITCODE -ne 0) { throw "installing chit[build] failed" }

if ($Version) { $env:CHIT_BUILD_VERSION = $Version }
if ($NoTray) { $env:CHIT_BUILD_TRAY = "0" }
if (Test-Path dist\chit-agent) { Remove-Item -Recurse -Force dist\chit-agent }
.venv\Scripts\python.exe -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath dist --workpath build\pyinstaller installers\pyinstaller\chit-agent.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

$built = & dist\chit-agent\chit-agent.exe --version
if ($LASTEXITCODE -ne 0) { throw "the frozen chit-agent.exe does not run" }
Write-Host "built dist\chit-agent\ ($built)"

if ($Installer) {
    $stamp = (Get-Content dist\chit-agent\_internal\chit-agent-version.txt -Raw).Trim()
    $makensis = (Get-Command makensis -ErrorAction SilentlyContinue).Source
    if (-not $makensis) { $makensis = "${env:ProgramFiles(x86)}\NSIS\makensis.exe" }
    & $makensis /WX /V2 "/DVERSION=$stamp" "/DSOURCE=$PWD\dist\chit-agent" `
        "/DOUTFILE=$PWD\dist\chit-agent-setup.exe" installers\windows\chit-agent.nsi
    if ($LASTEXITCODE -ne 0) { throw "makensis failed" }
    Write-Host "built dist\chit-agent-setup.exe"
}
