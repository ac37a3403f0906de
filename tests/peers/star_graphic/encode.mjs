// Encodes a ReceiptLine document with receiptline's Star Graphic mode ("stargraphic": raster).
// stdin: JSON {"doc": "...", "printer": {...}}; stdout: the bytes as hex.
import receiptline from 'receiptline';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const printer = { command: 'stargraphic', ...request.printer };
process.stdout.write(Buffer.from(receiptline.transform(request.doc, printer), 'binary').toString('hex'));
