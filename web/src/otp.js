// One-time-code secrets (TOTP, RFC 6238: SHA-1, 6 digits, 30 s, as
// src/core/totp.c) and their QR codes for authenticator apps.
import qrcode from 'qrcode-generator';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// 160 random bits as 32 base32 characters.
export function newSecret() {
  const bytes = new Uint8Array(20);
  crypto.getRandomValues(bytes);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export function otpauthUri(secret, account, issuer) {
  const label = encodeURIComponent(`${issuer}:${account}`);
  const clean = secret.replace(/=+$/, '').toUpperCase();
  return `otpauth://totp/${label}?secret=${clean}&issuer=${encodeURIComponent(issuer)}` +
    '&algorithm=SHA1&digits=6&period=30';
}

// An <svg> element string for text.
export function qrSvg(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  return qr.createSvgTag({ cellSize: 5, margin: 4, scalable: true });
}
