// Package wire is the JSON the loader hands a module: the message and the env
// as the reference CU's JSON.stringify writes them. It is pure (no cgo), so
// that the engine's tests can check the exact bytes a module would receive.
package wire

import (
	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// AppendMessage appends JSON.stringify of the message after the reference's
// messageSchema.parse: its key order, undefined members left out.
func AppendMessage(dst []byte, m *ao.Message) []byte {
	var o jsjson.Object
	raw := func(key string, v ao.JSValue) {
		if v != nil {
			o.Raw(key, v)
		}
	}
	raw("Id", m.ID)
	raw("Signature", m.Signature)
	raw("Data", m.Data)
	o.String("Owner", m.Owner)
	raw("Target", m.Target)
	raw("Anchor", m.Anchor)
	o.String("From", m.From)
	raw("Forwarded-By", m.ForwardedBy)
	o.Raw("Tags", ao.TagsJSON(m.Tags))
	raw("Epoch", m.Epoch)
	raw("Nonce", m.Nonce)
	o.Number("Timestamp", m.Timestamp)
	o.Number("Block-Height", m.BlockHeight)
	raw("Hash-Chain", m.HashChain)
	o.Bool("Cron", m.Cron)
	raw("Skip", m.Skip)
	raw("Original-Assignment-Id", m.OriginalAssignmentID)
	o.Bool("Read-Only", m.ReadOnly)
	return append(dst, o.Bytes()...)
}

// EncodeEnv is JSON.stringify of the AoGlobal env.
func EncodeEnv(env *ao.Env) []byte {
	part := func(e ao.EnvEntity) []byte {
		var o jsjson.Object
		o.String("Id", e.ID)
		o.String("Owner", e.Owner)
		o.Raw("Tags", ao.TagsJSON(e.Tags))
		return o.Bytes()
	}
	var o jsjson.Object
	o.Raw("Process", part(env.Process))
	o.Raw("Module", part(env.Module))
	return o.Bytes()
}
