package arweave

import (
	"crypto/sha512"
	"fmt"
	"strconv"
)

// DeepHash computes Arweave's deep hash (SHA-384) of v, as arweave-js and
// arbundles define it:
//
//	blob b:  sha384( sha384("blob" + len(b) in decimal) || sha384(b) )
//	list l:  acc = sha384("list" + len(l) in decimal);
//	         for each element e: acc = sha384(acc || DeepHash(e))
//
// v is a blob ([]byte, or a string taken as its UTF-8 bytes) or a list
// ([]any of blobs and lists, or [][]byte). Any other type is a programming
// error and panics.
func DeepHash(v any) [48]byte {
	switch x := v.(type) {
	case []byte:
		return deepHashBlob(x)
	case string:
		return deepHashBlob([]byte(x))
	case []any:
		acc := sha512.Sum384([]byte("list" + strconv.Itoa(len(x))))
		for _, e := range x {
			acc = deepHashFold(acc, DeepHash(e))
		}
		return acc
	case [][]byte:
		acc := sha512.Sum384([]byte("list" + strconv.Itoa(len(x))))
		for _, e := range x {
			acc = deepHashFold(acc, deepHashBlob(e))
		}
		return acc
	default:
		panic(fmt.Sprintf("arweave.DeepHash: unsupported type %T (want []byte, string, []any or [][]byte)", v))
	}
}

func deepHashBlob(b []byte) [48]byte {
	tag := sha512.Sum384([]byte("blob" + strconv.Itoa(len(b))))
	data := sha512.Sum384(b)
	var pair [96]byte
	copy(pair[:48], tag[:])
	copy(pair[48:], data[:])
	return sha512.Sum384(pair[:])
}

func deepHashFold(acc, h [48]byte) [48]byte {
	var pair [96]byte
	copy(pair[:48], acc[:])
	copy(pair[48:], h[:])
	return sha512.Sum384(pair[:])
}
