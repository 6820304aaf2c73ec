//go:build !linux

package loader

import (
	"errors"

	"github.com/aocu/aocu/internal/ao"
)

// Image is not available here: dry-runs run on the process's instance.
func (i *runtimeInstance) Image() (ao.Image, error) {
	return nil, errors.New("loader: memory images need Linux")
}
