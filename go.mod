module github.com/aocu/aocu

go 1.26.8

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	github.com/decred/dcrd/dcrec/secp256k1/v4 v4.4.1
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require github.com/mattn/go-sqlite3 v1.14.53
