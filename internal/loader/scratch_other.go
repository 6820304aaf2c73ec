//go:build !linux

package loader

import (
	"context"
	"errors"

	"github.com/aocu/aocu/internal/ao"
)

// ForkImage needs Linux (scratch_linux.go): the engine restores the process.
func (c *compiledModule) ForkImage(ctx context.Context, o ao.InstanceOptions, reuse ao.Fork) (ao.Fork, error) {
	if reuse != nil {
		reuse.Close()
	}
	return nil, errors.New("loader: scratch forks need Linux")
}

// Recycle closes the process: instances are recycled on Linux only.
func (i *runtimeInstance) Recycle() ao.Fork {
	i.p.Close()
	return nil
}

func (p *Process) recycledInstance(reuse ao.Fork) *instance {
	reuse.Close()
	return nil
}
