package ao

import (
	"context"
	"time"
)

// Forker is an Instance that can capture its committed memory as an Image,
// so that dry-runs run on private forks of it, many at once, without
// touching the instance (optional: an engine falls back to dry-running on
// the instance itself).
type Forker interface {
	// Image captures the committed memory (nil error: the caller releases
	// it). It is called between messages, like Memory.
	Image() (Image, error)
}

// Image is a captured committed memory. Forks made from it keep their view
// of it after Release; the image itself must not be used after Release.
type Image interface {
	// Size is the memory's length in bytes.
	Size() int64
	// ReadAt reads the memory (io.ReaderAt).
	ReadAt(p []byte, off int64) (int, error)
	// Fork returns a fork over the image: reuse (a fork of an earlier image,
	// or nil) is re-pointed to this image when it can be, else closed and a
	// new one made.
	Fork(ctx context.Context, reuse Fork) (Fork, error)
	Release()
}

// Fork evaluates dry-runs over an Image as on a fresh instance of its
// memory; after each one its memory is the image's again. It is not safe for
// concurrent use.
type Fork interface {
	DryRun(ctx context.Context, msg *Message, env *Env, limit time.Duration) (*Result, error)
	Close() error
}

// ImageForker is a CompiledModule that dry-runs over a memory image without
// an instance of the process: the engine's idle processes are images (in
// the memory cache or on file), and a dry-run on one needs nothing else.
// Optional: an engine without it restores the process first.
type ImageForker interface {
	// ForkImage returns a fork holding the memory an instance restored from
	// opts.Memory would hold, as on a fresh instance. reuse (a fork an
	// earlier ForkImage returned, or nil) is loaded with the image when it
	// can be, else closed and a new one made. The fork keeps no reference
	// to opts.Memory. Unlike an Image's forks, the fork's memory after a
	// dry-run is not its image's: only DryRun right after ForkImage is
	// defined.
	ForkImage(ctx context.Context, opts InstanceOptions, reuse Fork) (Fork, error)
}

// Recycler is an Instance whose resources can serve the next instance of its
// module: Recycle closes the instance and returns a fork for
// ImageForker.ForkImage or InstanceOptions.Reuse, or nil when it cannot (the
// instance is closed all the same). Optional.
type Recycler interface {
	Recycle() Fork
}
