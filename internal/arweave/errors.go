package arweave

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped by every *Error this package returns.
var (
	// ErrMalformed marks input that does not follow the format: truncated,
	// inconsistent lengths, bad presence bytes, tags over the limits...
	ErrMalformed = errors.New("malformed")
	// ErrInvalidSignature marks a well-formed item whose signature does not
	// verify against its owner.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrUnsupported marks something valid in ANS-104 that this package cannot
	// do, such as verifying an Aptos signature.
	ErrUnsupported = errors.New("unsupported")
)

// Error is the error type of this package. Its message is complete on its own
// ("data item: truncated at offset 1090: ..."); Kind is one of the sentinel
// errors above and is what errors.Is matches.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// prefixed returns err with prefix+": " in front of its message, keeping its
// kind.
func prefixed(prefix string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Kind: e.Kind, Msg: prefix + ": " + e.Msg}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
