<?php
// Decrypts a breakout enc:v1 value with PHP's standard functions (no extension beyond openssl).
// Usage: BREAKOUT_MASTER_KEY=<base64 key> php docs/decrypt.php 'enc:v1:…'
function breakout_decrypt(string $value, string $masterKeyBase64): string {
    $parts = explode(':', $value, 4);                     // enc, v1, kid, base64(IV ‖ CT ‖ TAG)
    if (count($parts) !== 4 || $parts[0] !== 'enc' || $parts[1] !== 'v1') {
        throw new InvalidArgumentException('not an enc:v1 value');
    }
    $key = base64_decode($masterKeyBase64, true);
    if ($key === false || strlen($key) !== 32) {
        throw new InvalidArgumentException('master key must be 32 bytes, base64');
    }
    if (substr(bin2hex(hash('sha256', $key, true)), 0, 8) !== $parts[2]) {
        throw new RuntimeException('value was encrypted with another key (kid ' . $parts[2] . ')');
    }
    $raw = base64_decode($parts[3], true);
    if ($raw === false || strlen($raw) < 64) {
        throw new RuntimeException('truncated value');
    }
    $iv = substr($raw, 0, 16);
    $ct = substr($raw, 16, -32);
    $tag = substr($raw, -32);
    $kenc = hash_hkdf('sha256', $key, 32, 'breakout/v1/enc', '');
    $kmac = hash_hkdf('sha256', $key, 32, 'breakout/v1/mac', '');
    $expected = hash_hmac('sha256', 'enc:v1:' . $parts[2] . ':' . $iv . $ct, $kmac, true);
    if (!hash_equals($expected, $tag)) {                  // verify before decrypting
        throw new RuntimeException('integrity check failed');
    }
    $plain = openssl_decrypt($ct, 'aes-256-cbc', $kenc, OPENSSL_RAW_DATA, $iv);
    if ($plain === false) {
        throw new RuntimeException('decryption failed');
    }
    return $plain;
}

if (PHP_SAPI === 'cli' && isset($argv[1])) {
    echo breakout_decrypt($argv[1], getenv('BREAKOUT_MASTER_KEY'));
}
