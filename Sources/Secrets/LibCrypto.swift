import COpenSSL

/// The few libcrypto (OpenSSL 3) primitives the secret format needs, behind safe Swift.
/// (<https://www.openssl.org/docs/man3.0/man3/>). HKDF is built on the one-shot `HMAC()` rather
/// than `EVP_KDF`, whose `OSSL_PARAM`s would keep pointers to Swift temporaries.
enum LibCrypto {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var description: String { "libcrypto: \(operation) failed" }
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBufferPointer { input in
            _ = SHA256(input.baseAddress, input.count, &digest)
        }
        return digest
    }

    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &length)
            }
        }
        return out
    }

    /// HKDF-SHA256 (RFC 5869): extract with `salt` (empty means 32 zero bytes), expand with `info`.
    static func hkdfSHA256(key: [UInt8], salt: [UInt8] = [], info: [UInt8], length: Int) -> [UInt8] {
        let prk = hmacSHA256(key: salt.isEmpty ? [UInt8](repeating: 0, count: 32) : salt, data: key)
        var okm: [UInt8] = []
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while okm.count < length {
            previous = hmacSHA256(key: prk, data: previous + info + [counter])
            okm += previous
            counter += 1
        }
        return Array(okm.prefix(length))
    }

    static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw Failure(operation: "RAND_bytes") }
        return bytes
    }

    /// Compares in time independent of where the inputs differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
        }
    }

    /// AES-256-CBC with PKCS#7 padding.
    static func aes256CBC(encrypt: Bool, key: [UInt8], iv: [UInt8], input: [UInt8]) throws -> [UInt8] {
        guard key.count == 32, iv.count == 16 else { throw Failure(operation: "AES-256-CBC key/IV size") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Failure(operation: "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: input.count + 32)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok: Bool = out.withUnsafeMutableBufferPointer { o in
            let init_ =
                encrypt
                ? EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nil, key, iv)
                : EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nil, key, iv)
            guard init_ == 1 else { return false }
            let update = input.withUnsafeBufferPointer { i in
                encrypt
                    ? EVP_EncryptUpdate(ctx, o.baseAddress, &written, i.baseAddress, Int32(i.count))
                    : EVP_DecryptUpdate(ctx, o.baseAddress, &written, i.baseAddress, Int32(i.count))
            }
            guard update == 1 else { return false }
            let finish =
                encrypt
                ? EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(written), &final)
                : EVP_DecryptFinal_ex(ctx, o.baseAddress! + Int(written), &final)
            return finish == 1
        }
        ERR_clear_error()
        guard ok else { throw Failure(operation: encrypt ? "AES-256-CBC encryption" : "AES-256-CBC decryption") }
        return Array(out.prefix(Int(written + final)))
    }
}
