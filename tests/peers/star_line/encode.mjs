// Encodes a document with @point-of-sale/receipt-printer-encoder in Star Line Mode.
// stdin: JSON {"options": {...}, "calls": [["method", ...args], ...]}; stdout: the bytes as hex.
import ReceiptPrinterEncoder from '@point-of-sale/receipt-printer-encoder';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
let encoder = new ReceiptPrinterEncoder({ language: 'star-line', ...request.options });
for (const [method, ...args] of request.calls) {
  encoder = encoder[method](...args);
}
process.stdout.write(Buffer.from(encoder.encode()).toString('hex'));
