<?php
// Decrypts a breakout enc:v2 value (or an old enc:v1 one) with PHP's standard functions (no
// extension beyond openssl). An enc:v2 value is bound to its scope: 'organization:<slug>' for a
// value of organizations/<slug>.yaml or of that organization's mt_database_connections rows,
// 'settings' for breakout.yaml; it does not decrypt under another.
// Usage: BREAKOUT_MASTER_KEY=<base64 key> php docs/decrypt.php 'enc:v2:…' organization:ansd
function breakout_decrypt(string $value, string $masterKeyBase64, string $scope = 'settings'): string {
    $parts = explode(':', $value, 4);                     // enc, v2 (or v1), kid, base64(IV ‖ CT ‖ TAG)
    if (count($parts) !== 4 || $parts[0] !== 'enc' || ($parts[1] !== 'v2' && $parts[1] !== 'v1')) {
        throw new InvalidArgumentException('not an enc:v2 or enc:v1 value');
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
    $header = 'enc:' . $parts[1] . ':' . $parts[2] . ':';
    $bound = $parts[1] === 'v2' ? $scope . "\n" : '';     // v2: the scope is authenticated too
    $expected = hash_hmac('sha256', $header . $bound . $iv . $ct, $kmac, true);
    if (!hash_equals($expected, $tag)) {                  // verify before decrypting
        throw new RuntimeException('integrity check failed (altered, or encrypted for another scope)');
    }
    $plain = openssl_decrypt($ct, 'aes-256-cbc', $kenc, OPENSSL_RAW_DATA, $iv);
    if ($plain === false) {
        throw new RuntimeException('decryption failed');
    }
    return $plain;
}

if (PHP_SAPI === 'cli' && isset($argv[1])) {
    echo breakout_decrypt($argv[1], getenv('BREAKOUT_MASTER_KEY'), $argv[2] ?? 'settings');
}
