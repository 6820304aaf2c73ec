module github.com/aocu/aocu

go 1.26.8

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	golang.org/x/sys v0.49.0
)
