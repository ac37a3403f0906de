; The Chit agent's Windows installer (NSIS 3). Built by scripts/build-agent.ps1:
;   makensis /DVERSION=0.1.0 /DSOURCE=dist\chit-agent /DOUTFILE=dist\chit-agent-setup.exe chit-agent.nsi
;
; Installs the frozen agent (scripts/build-agent.ps1) to Program Files, registers the Windows
; service ChitAgent (chit-agent-service.exe install: automatic start, virtual account
; NT SERVICE\ChitAgent, restarted on failure) and starts it, and starts the tray for every user
; at login (HKLM Run). Silent roll-out:
;   chit-agent-setup.exe /S /HUB=https://hub.example /ENROLL=CODE
; writes %ProgramData%\Chit\enroll.toml, which the service enrols with at its first start.
; The local group "Chit Agent Users" may use the service's control API (the tray of a standard
; user; agent.control.winpipe); a new group gets NT AUTHORITY\INTERACTIVE (every logged-on
; user) unless /NOINTERACTIVE is given, and an existing one is left as IT made it.
; Uninstall (Apps & features, or "Uninstall.exe /S") removes the service, the tray entry, the
; group and the program; the agent's settings in %ProgramData%\Chit stay unless /PURGE is given.

Unicode true
ManifestDPIAware true
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "give /DVERSION=x.y.z"
!endif
!ifndef SOURCE
  !error "give /DSOURCE=path\to\dist\chit-agent (the frozen agent)"
!endif
!ifndef OUTFILE
  !define OUTFILE "chit-agent-setup.exe"
!endif

!define PRODUCT "Chit Agent"
!define SERVICE "ChitAgent"
!define ACCOUNT "NT SERVICE\ChitAgent"
!define GROUP "Chit Agent Users"
; NT AUTHORITY\INTERACTIVE by SID: its name is translated on non-English Windows.
!define INTERACTIVE_SID "S-1-5-4"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\ChitAgent"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${PRODUCT}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "0.0.0.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Chit"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var Hub
Var EnrollCode
Var NoInteractive

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "The Chit agent needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  ${GetParameters} $R0
  ${GetOptions} $R0 "/HUB=" $Hub
  ${GetOptions} $R0 "/ENROLL=" $EnrollCode
  StrCpy $NoInteractive "0"
  ClearErrors
  ${GetOptions} $R0 "/NOINTERACTIVE" $R1
  ${IfNot} ${Errors}
    StrCpy $NoInteractive "1"
  ${EndIf}
FunctionEnd

; The control API's group. Only a group this install creates gets INTERACTIVE: an upgrade
; keeps the members IT chose. 64-bit PowerShell adds it by SID (the 32-bit one has no
; LocalAccounts module); net.exe with the English name is the fallback.
Function CreateControlGroup
  nsExec::ExecToLog 'net localgroup "${GROUP}" /add /comment:"May use the Chit agent service"'
  Pop $0
  ${If} $0 != 0
  ${OrIf} $NoInteractive == "1"
    Return
  ${EndIf}
  nsExec::ExecToLog `"$WINDIR\Sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -NonInteractive -Command "Add-LocalGroupMember -Group '${GROUP}' -Member ${INTERACTIVE_SID}"`
  Pop $0
  ${If} $0 != 0
    nsExec::ExecToLog 'net localgroup "${GROUP}" "NT AUTHORITY\INTERACTIVE" /add'
    Pop $0
  ${EndIf}
FunctionEnd

; %ProgramData%\Chit\enroll.toml from /HUB= and /ENROLL= (kept when it exists: a reinstall
; never replaces a preseed the service has not used yet).
Function WritePreseed
  ${If} $Hub == ""
  ${OrIf} $EnrollCode == ""
    Return
  ${EndIf}
  IfFileExists "$APPDATA\Chit\enroll.toml" 0 +2
    Return
  FileOpen $0 "$APPDATA\Chit\enroll.toml" w
  FileWrite $0 "# Written by chit-agent-setup.exe: the service enrols with it once.$\r$\n"
  FileWrite $0 'hub = "$Hub"$\r$\n'
  FileWrite $0 'code = "$EnrollCode"$\r$\n'
  FileClose $0
FunctionEnd

Section "Chit Agent" SecMain
  SectionIn RO
  ; An upgrade: stop the running service and trays before their files are replaced.
  IfFileExists "$INSTDIR\chit-agent-service.exe" 0 +2
    nsExec::ExecToLog '"$INSTDIR\chit-agent-service.exe" remove'
  nsExec::ExecToLog 'taskkill /F /IM chit-agent-tray.exe'

  SetOutPath "$INSTDIR"
  File /r "${SOURCE}\*.*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateDirectory "$APPDATA\Chit"
  CreateDirectory "$APPDATA\Chit\agent"
  CreateDirectory "$APPDATA\Chit\logs"
  Call WritePreseed

  Call CreateControlGroup
  nsExec::ExecToLog '"$INSTDIR\chit-agent-service.exe" install'
  Pop $0
  ${If} $0 != 0
    MessageBox MB_ICONSTOP "Registering the ChitAgent service failed ($0)." /SD IDOK
    Abort
  ${EndIf}
  ; The service's virtual account owns its folder; users may read the logs.
  nsExec::ExecToLog 'icacls "$APPDATA\Chit" /grant "${ACCOUNT}:(OI)(CI)M" /T /Q'
  nsExec::ExecToLog '"$INSTDIR\chit-agent-service.exe" start'

  ; The tray, for every user at login.
  WriteRegStr HKLM "${RUN_KEY}" "${PRODUCT}" '"$INSTDIR\chit-agent-tray.exe"'
  CreateShortCut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\chit-agent-tray.exe"

  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "Chit"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\chit-agent-tray.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "Uninstall"
  nsExec::ExecToLog '"$INSTDIR\chit-agent-service.exe" remove'
  nsExec::ExecToLog 'taskkill /F /IM chit-agent-tray.exe'
  nsExec::ExecToLog 'net localgroup "${GROUP}" /delete'
  Pop $0
  DeleteRegValue HKLM "${RUN_KEY}" "${PRODUCT}"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    RMDir /r "$APPDATA\Chit"
  ${EndIf}
SectionEnd
