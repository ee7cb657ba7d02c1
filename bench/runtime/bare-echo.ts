// The anchor of the runtime benchmark: the least an HTTP JSON echo can do on this machine with
// node:http (read the body, parse it, answer `value` with Content-Length). No OpenWhisk logic.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const { value } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { value: unknown };
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
