package servecmd

import (
	"encoding/json"
	"strings"
	"testing"
)

var e2eModules = []struct{ file, format string }{
	{"aos2_0_6.wasm", "wasm64-unknown-emscripten-draft_2024_02_15"},
	{"aos2_0_4_32.wasm", "wasm32-unknown-emscripten-metering"},
}

// handlersCode installs Set/Get handlers that reply, as a KV store would.
const handlersCode = `
Store = Store or {}
Handlers.add("Set", Handlers.utils.hasMatchingTag("Action", "Set"), function (msg)
  Store[msg.Tags.Key] = msg.Data
  msg.reply({ Action = "Set-Done", Data = "stored " .. msg.Tags.Key })
end)
Handlers.add("Get", Handlers.utils.hasMatchingTag("Action", "Get"), function (msg)
  msg.reply({ Action = "Get-Result", Data = Store[msg.Tags.Key] or "" })
end)
return "handlers ready"`

func TestServeKVStore(t *testing.T) {
	for _, m := range e2eModules {
		t.Run(m.file, func(t *testing.T) {
			n := startNet(t, m.file, m.format, netOptions{})
			pid := n.spawn(t, "")
			// AOP-6: the process message itself, at nonce 0.
			boot := n.result(t, pid, pid)
			noError(t, boot)

			r := n.result(t, pid, n.eval(t, pid, handlersCode))
			noError(t, r)
			must(t, outputData(t, r) == "handlers ready", "Eval output %s", r["Output"])

			set := n.send(t, pid, "hello world", "Action", "Set", "Key", "greeting")
			r = n.result(t, pid, set)
			noError(t, r)
			var msgs []struct {
				Target string
				Data   string
				Tags   []struct{ Name, Value string }
			}
			if err := json.Unmarshal(r["Messages"], &msgs); err != nil || len(msgs) != 1 {
				t.Fatalf("Set reply: %s", r["Messages"])
			}
			must(t, msgs[0].Target == n.user.Address() && msgs[0].Data == "stored greeting", "Set reply %+v", msgs[0])
			var refd bool
			for _, tg := range msgs[0].Tags {
				if tg.Name == "X-Reference" || tg.Name == "Reference" {
					refd = true
				}
			}
			must(t, refd, "the reply carries no reference tag: %+v", msgs[0].Tags)

			get := n.send(t, pid, "", "Action", "Get", "Key", "greeting")
			r = n.result(t, pid, get)
			noError(t, r)
			must(t, strings.Contains(string(r["Messages"]), `"Data":"hello world"`), "Get reply %s", r["Messages"])

			// A second read is served from the store, byte for byte.
			code, again := n.get(t, "/result/"+get+"?process-id="+pid)
			first, _ := json.Marshal(r)
			must(t, code == 200 && len(again) > 0, "second read %d", code)
			var a, b any
			json.Unmarshal(again, &a)
			json.Unmarshal(first, &b)
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			must(t, string(ja) == string(jb), "second read differs:\n%s\n%s", again, first)
		})
	}
}
