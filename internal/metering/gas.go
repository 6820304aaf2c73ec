package metering

import (
	"errors"
	"math"
)

// DefaultGasLimit is the reference glue's DEFAULT_GAS_LIMIT, used when computeLimit is missing, 0 or NaN
// (`limit: computeLimit || DEFAULT_GAS_LIMIT`).
const DefaultGasLimit = 9e15

// ErrOutOfGas is the error the reference usegas throws: Error('out of gas!').
var ErrOutOfGas = errors.New("out of gas!")

// Gas mirrors Module.gas of the reference glue. Used and Limit are float64 because the glue keeps them in JS
// numbers: usegas(n) does `gas.used += Number(n); if (gas.used > gas.limit) throw Error('out of gas!')`.
// Note that the amount that crosses the limit is still added to Used before the error.
type Gas struct {
	Used  float64
	Limit float64
}

// NewGas returns a Gas with the given limit (DefaultGasLimit if limit is 0 or NaN, like `computeLimit ||
// DEFAULT_GAS_LIMIT`).
func NewGas(limit float64) *Gas {
	if limit == 0 || math.IsNaN(limit) {
		limit = DefaultGasLimit
	}
	return &Gas{Limit: limit}
}

// Refill resets Used to 0 (gas.refill() at the start of every handle call).
func (g *Gas) Refill() { g.Used = 0 }

// Use is the body of the usegas import for either meterType: an i32 argument arrives in JS as a signed
// number and an i64 one as a BigInt converted with Number(), so pass the signed value. It returns
// ErrOutOfGas when Used exceeds Limit.
func (g *Gas) Use(n int64) error {
	g.Used += float64(n)
	if g.Used > g.Limit {
		return ErrOutOfGas
	}
	return nil
}
