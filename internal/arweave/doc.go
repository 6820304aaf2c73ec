// Package arweave implements the Arweave primitives an ao unit needs: JWK
// wallets (RSA-4096), the deep hash, ANS-104 data items (parse, verify, build,
// sign) and ANS-104 bundles.
//
// The formats follow what the reference JavaScript libraries do, which is what
// the ao network accepts (arbundles 0.11 as used by the MU, @dha-team/arbundles
// as used by aoconnect, and the Rust SU's parser). Where the ANS-104 text and
// the libraries differ, the package says which one it follows:
//
//   - RSA-PSS salt length: arbundles and aoconnect on node sign with the
//     largest salt (478 bytes for a 4096-bit key, node's default); browser
//     wallets sign with 32. Every verifier in the network detects the salt
//     length, and so does [Verify]; [Wallet.Sign] uses 32.
//   - Tag limits: at most 128 tags, names of 1 to 1024 bytes and values of at
//     most 3072 bytes (ANS-104). Values may be empty (ANS-104 says non-empty,
//     but aoconnect and aos send empty values and arbundles accepts them).
//     The encoded tags may not exceed 4096 bytes, the limit of arbundles'
//     encoder and of its DataItem.verify.
//   - The signed message is deepHash(["dataitem", "1", signature type as a
//     decimal string, owner, target, anchor, encoded tags, data]), with the tags
//     as their Avro bytes, as arbundles computes it (ANS-104's text shows an
//     older list).
//   - Anchors are raw bytes (arbundles takes the anchor string's UTF-8 bytes,
//     which must be 32); targets are base64url-decoded addresses.
//
// Errors: every rejection is an *Error whose message says what is wrong and
// which wraps one of [ErrMalformed], [ErrInvalidSignature] or [ErrUnsupported],
// so callers can use errors.Is.
package arweave
