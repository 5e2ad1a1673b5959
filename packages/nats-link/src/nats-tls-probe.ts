/**
 * Why a TLS connection to a NATS server failed, in words. nats.js reports a
 * client certificate the server refuses as a bare TIMEOUT: under TLS 1.3 the
 * server's verdict arrives as an alert after the client's handshake has already
 * finished, and nats.js drops it while it waits for the server's PONG. This
 * probe repeats the upgrade by hand (plain INFO first, then TLS, as the NATS
 * protocol does) and waits for that alert, so the agent's log can say "the
 * server refused this node's certificate" instead of "TIMEOUT".
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface TlsProbeFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface TlsRefusal {
  /** OpenSSL's or Node's code, e.g. ERR_SSL_TLSV1_ALERT_UNKNOWN_CA. */
  readonly code: string;
  /** One sentence for the operator. */
  readonly reason: string;
}

function hostPort(server: string): { host: string; port: number } {
  const url = new URL(/^[a-z]+:\/\//.test(server) ? server : `nats://${server}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 4222) };
}

/** Words for the codes a NATS server's TLS refusal comes with. */
export function describeTlsCode(code: string, hasCertificate: boolean): string {
  // Go's TLS (nats-server) answers a missing client certificate with bad_certificate.
  if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE/.test(code) && !hasCertificate)
    return 'the server requires a client certificate (mutual TLS): set nats.tls.certFile and nats.tls.keyFile';
  if (/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|HANDSHAKE_FAILURE/.test(code))
    return "the server refused this node's client certificate (not signed by a CA it trusts, or not for client auth)";
  if (/CERTIFICATE_EXPIRED/.test(code))
    return "the server refused this node's expired client certificate";
  if (/UNABLE_TO_VERIFY|SELF_SIGNED|CERT_HAS_EXPIRED|ALTNAME|HOSTNAME/.test(code))
    return "this node does not trust the server's certificate (set nats.tls.caFile to the CA that signed it, and use a host name the certificate names)";
  return `TLS failed (${code})`;
}

/**
 * Connects once to `server` with these files and resolves with the refusal, or
 * undefined when TLS works (or the server speaks no TLS, or the probe cannot
 * tell within `timeoutMs`). Never rejects.
 */
export function probeNatsTls(
  server: string,
  files: TlsProbeFiles,
  timeoutMs = 3000,
): Promise<TlsRefusal | undefined> {
  return new Promise((resolve) => {
    let done = false;
    let raw: Socket | undefined;
    const finish = (refusal: TlsRefusal | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw?.destroy();
      resolve(refusal);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    let target: { host: string; port: number };
    let secure: { ca?: Buffer; cert?: Buffer; key?: Buffer };
    try {
      target = hostPort(server);
      secure = {
        ...(files.caFile !== undefined ? { ca: readFileSync(files.caFile) } : {}),
        ...(files.certFile !== undefined ? { cert: readFileSync(files.certFile) } : {}),
        ...(files.keyFile !== undefined ? { key: readFileSync(files.keyFile) } : {}),
      };
    } catch {
      finish(undefined);
      return;
    }
    const hasCertificate = secure.cert !== undefined;
    const refused = (error: NodeJS.ErrnoException): void =>
      finish({
        code: error.code ?? error.message,
        reason: describeTlsCode(error.code ?? error.message, hasCertificate),
      });
    raw = netConnect(target.port, target.host);
    raw.on('error', () => finish(undefined));
    let info = '';
    raw.setEncoding('utf8');
    raw.on('data', (chunk: string) => {
      info += chunk;
      if (!info.includes('\r\n')) return;
      raw!.removeAllListeners('data');
      if (!/"tls_required"\s*:\s*true/.test(info)) {
        finish(undefined);
        return;
      }
      const socket = tlsConnect({
        socket: raw!,
        servername: target.host,
        rejectUnauthorized: true,
        ...secure,
      });
      socket.on('error', refused);
      // The server's verdict on our certificate comes after this under TLS 1.3;
      // the CONNECT/PING makes it answer (+OK/PONG) when it accepted us.
      socket.on('secureConnect', () => socket.write('CONNECT {"verbose":false}\r\nPING\r\n'));
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => {
        if (text.includes('PONG') || text.includes('-ERR')) finish(undefined);
      });
      socket.on('close', () => finish(undefined));
    });
  });
}
