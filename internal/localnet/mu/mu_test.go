package mu_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/mu"
)

// handlersCode: a process counts the Pings it gets and replies Pong; it
// counts the Pongs, the Bounces (each bounced back to its sender), the
// Cron-Pings and the Spawned messages it gets; Send(target, n) sends n Pings.
const handlersCode = `
Pings, Pongs, Bounces, Ticks = Pings or 0, Pongs or 0, Bounces or 0, Ticks or 0
PingFrom = PingFrom or {}
Children = Children or {}
ao.addAssignable("anything", function (msg) return true end)
local function on(action, f) Handlers.add(action, Handlers.utils.hasMatchingTag("Action", action), f) end
on("Ping", function (msg)
  Pings = Pings + 1
  table.insert(PingFrom, msg.From)
  msg.reply({ Action = "Pong", Data = "pong " .. Pings })
end)
on("Pong", function (msg) Pongs = Pongs + 1 end)
on("Bounce", function (msg)
  Bounces = Bounces + 1
  ao.send({ Target = msg.From, Action = "Bounce" })
end)
on("Cron-Ping", function (msg) Ticks = Ticks + 1 end)
on("Spawned", function (msg)
  table.insert(Children, { Process = msg.Tags.Process, From = msg.From, Reference = msg.Tags.Reference })
end)
function Send(target, n)
  for i = 1, n do ao.send({ Target = target, Action = "Ping", Data = "ping " .. i }) end
end
return "ready"`

const maxDepth = 6

// TestMessengerUnit runs the MU against the real gateway, SU and CU with
// aos 2.0.6 processes. One network, few processes (the CU checkpoints each
// at shutdown); each part can run alone (-run).
func TestMessengerUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole local network")
	}
	n := startNet(t, func(c *mu.Config) { c.MaxDepth = maxDepth })

	// pairs spawns two processes with handlersCode through the MU, once.
	pairs := map[string][2]string{}
	pair := func(t *testing.T, name string) (string, string) {
		t.Helper()
		if p, ok := pairs[name]; ok {
			return p[0], p[1]
		}
		x, y := n.spawn(t, name+"-1"), n.spawn(t, name+"-2")
		n.waitIdle(t)
		for _, pid := range []string{x, y} {
			_, out := n.evalOK(t, pid, handlersCode)
			must(t, out == "ready", "eval: %q", out)
		}
		n.waitIdle(t)
		pairs[name] = [2]string{x, y}
		return x, y
	}
	count := func(t *testing.T, pid, v string) int { t.Helper(); return n.queryInt(t, pid, v) }
	pings := func(t *testing.T, pid string) int {
		t.Helper()
		return len(withTag(n.stream(t, pid), "Action", "Ping"))
	}

	t.Run("health and metrics", func(t *testing.T) {
		resp, body := localnettest.Do(t, "GET", n.muURL+"/", "", nil)
		must(t, resp.StatusCode == 200 && string(body) == "ao messenger unit", "GET /: %d %q", resp.StatusCode, body)
		resp, body = localnettest.Do(t, "GET", n.muURL+"/metrics", "", nil)
		must(t, resp.StatusCode == 200 && strings.Contains(string(body), "ao_mu_queue_size"), "GET /metrics: %d %s", resp.StatusCode, body)
	})

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			name, query string
			body        []byte
			want        int
		}{
			{"empty", "", nil, 400},
			{"garbage", "", []byte("not a data item"), 400},
			{"half an assignment", "?process-id=abc", nil, 400},
		} {
			resp, body := localnettest.Do(t, "POST", n.muURL+"/"+c.query, "application/octet-stream", c.body)
			must(t, resp.StatusCode == c.want && strings.Contains(string(body), `"error"`), "%s: %d %s", c.name, resp.StatusCode, body)
		}
		// A tampered signature.
		_, raw := sign(t, n.user, []byte("x"), "", "Data-Protocol", "ao", "Type", "Message")
		raw[len(raw)-1] ^= 1
		resp, body := localnettest.Do(t, "POST", n.muURL+"/", "application/octet-stream", raw)
		must(t, resp.StatusCode == 400, "tampered: %d %s", resp.StatusCode, body)
		// Not an ao item.
		_, raw = sign(t, n.user, []byte("x"), "", "Type", "Message")
		resp, body = localnettest.Do(t, "POST", n.muURL+"/", "application/octet-stream", raw)
		must(t, resp.StatusCode == 400 && strings.Contains(string(body), "Data-Protocol"), "no Data-Protocol: %d %s", resp.StatusCode, body)
		// A message to no process.
		_, raw = sign(t, n.user, []byte("x"), n.user.Address(), "Data-Protocol", "ao", "Type", "Message")
		resp, body = localnettest.Do(t, "POST", n.muURL+"/", "application/octet-stream", raw)
		must(t, resp.StatusCode == 404, "to a wallet: %d %s", resp.StatusCode, body)
	})

	t.Run("spawn", func(t *testing.T) {
		a, b := pair(t, "ab")
		// The boot result (AOP-6) was cranked; the CU has it.
		n.result(t, a, a)
		n.result(t, b, b)
		// The SU holds each process (nonce 0) with the user as owner.
		for _, pid := range []string{a, b} {
			resp, body := localnettest.Do(t, "GET", n.suURL+"/processes/"+pid, "", nil)
			must(t, resp.StatusCode == 200 && strings.Contains(string(body), n.user.Address()), "SU process: %d %s", resp.StatusCode, body)
		}
	})

	var evalID string
	t.Run("message and reply", func(t *testing.T) {
		a, b := pair(t, "ab")
		evalID = n.eval(t, a, `Send("`+b+`", 1) return "sent"`)
		n.waitIdle(t)
		must(t, count(t, b, "Pings") == 1, "b got %d pings", count(t, b, "Pings"))
		must(t, n.query(t, b, "return PingFrom[1]") == a, "the ping comes from %q", n.query(t, b, "return PingFrom[1]"))
		must(t, count(t, a, "Pongs") == 1, "a got %d pongs", count(t, a, "Pongs"))

		// The pushed Ping on b's SU stream: signed by the MU, tags as the
		// reference MU makes them.
		ps := withTag(n.stream(t, b), "Action", "Ping")
		must(t, len(ps) == 1, "b's stream has %d pings", len(ps))
		p := ps[0]
		must(t, p.Owner == n.muWallet.Address(), "ping owner %s, MU %s", p.Owner, n.muWallet.Address())
		must(t, p.Data == "ping 1", "ping data %q", p.Data)
		var names []string
		for _, tg := range p.Tags {
			names = append(names, tg.Name)
		}
		want := "Variant,Reference,Action,Data-Protocol,Type,From-Process,From-Module,Pushed-For"
		must(t, strings.Join(names, ",") == want, "ping tags %v", p.Tags)
		for k, v := range map[string]string{"Data-Protocol": "ao", "Type": "Message", "Variant": "ao.TN.1",
			"From-Process": a, "From-Module": n.mod, "Pushed-For": evalID, "Reference": "1"} {
			got, _ := tagOf(p.Tags, k)
			must(t, got == v, "ping tag %s = %q, want %q", k, got, v)
		}
		// The Pong on a's stream: the reply's X-Reference, Pushed-For the
		// original message.
		pongs := withTag(n.stream(t, a), "Action", "Pong")
		must(t, len(pongs) == 1, "a's stream has %d pongs", len(pongs))
		for k, v := range map[string]string{"From-Process": b, "Pushed-For": evalID, "X-Reference": "1"} {
			got, _ := tagOf(pongs[0].Tags, k)
			must(t, got == v, "pong tag %s = %q, want %q", k, got, v)
		}
	})

	t.Run("push again", func(t *testing.T) {
		a, b := pair(t, "ab")
		if evalID == "" {
			evalID = n.eval(t, a, `Send("`+b+`", 1) return "sent"`)
			n.waitIdle(t)
		}
		before, beforeCount := pings(t, b), count(t, b, "Pings")
		resp, body := localnettest.Do(t, "POST", n.muURL+"/push/"+evalID+"/0?process-id="+a, "", nil)
		must(t, resp.StatusCode == http.StatusAccepted && strings.Contains(string(body), "Processing Message Result"), "push: %d %s", resp.StatusCode, body)
		n.waitIdle(t)
		// The same item again: the SU holds it; nothing is delivered twice.
		must(t, pings(t, b) == before, "pushed twice")
		must(t, count(t, b, "Pings") == beforeCount, "b got %d pings", count(t, b, "Pings"))
		resp, body = localnettest.Do(t, "POST", n.muURL+"/push/"+evalID+"/1?process-id="+a, "", nil)
		must(t, resp.StatusCode == 400, "push of a missing number: %d %s", resp.StatusCode, body)
		resp, _ = localnettest.Do(t, "POST", n.muURL+"/push/"+evalID+"/x?process-id="+a, "", nil)
		must(t, resp.StatusCode == 400, "push of a bad number: %d", resp.StatusCode)
	})

	t.Run("message to a wallet", func(t *testing.T) {
		a, _ := pair(t, "ab")
		n.eval(t, a, `ao.send({ Target = "`+n.user.Address()+`", Action = "Hello", Data = "hi" }) return "ok"`)
		n.waitIdle(t)
		es := n.uploads(t, n.user.Address(), "Hello")
		must(t, len(es) == 1, "uploads to the wallet: %+v", es)
		from, _ := tagOf(es[0].Tags, "From-Process")
		must(t, from == a && es[0].Owner.Address == n.muWallet.Address(), "upload %+v", es[0])
	})

	t.Run("assignments", func(t *testing.T) {
		a, b := pair(t, "ab")
		pings0, pongs0 := count(t, b, "Pings"), len(n.uploads(t, n.user.Address(), "Pong"))
		// Two Pings on the gateway only, for a.
		m1, raw1 := sign(t, n.user, []byte("assigned 1"), a, "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Ping")
		m2, raw2 := sign(t, n.user, []byte("assigned 2"), a, "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Ping")
		for _, raw := range [][]byte{raw1, raw2} {
			resp, body := localnettest.Do(t, "POST", n.gwURL+"/tx", "application/octet-stream", raw)
			must(t, resp.StatusCode == 200, "gateway: %d %s", resp.StatusCode, body)
		}
		// A client's assignment of m1 to b, through the MU: b handles the
		// Ping and its Pong to the user is uploaded.
		resp, body := localnettest.Do(t, "POST", n.muURL+"/?process-id="+b+"&assign="+m1.ID(), "", nil)
		must(t, resp.StatusCode == http.StatusAccepted && strings.Contains(string(body), `"message":"Processing Assignment"`), "assign: %d %s", resp.StatusCode, body)
		n.waitIdle(t)
		must(t, count(t, b, "Pings") == pings0+1, "b got %d pings", count(t, b, "Pings")-pings0)
		must(t, len(n.uploads(t, n.user.Address(), "Pong")) == pongs0+1, "pong uploads")
		// Assigned twice: the SU refuses; the MU says so.
		resp, body = localnettest.Do(t, "POST", n.muURL+"/?process-id="+b+"&assign="+m1.ID(), "", nil)
		must(t, resp.StatusCode == 400 && strings.Contains(string(body), "already exists"), "assign again: %d %s", resp.StatusCode, body)
		// An assignment in a's outbox (aos ao.assign).
		n.eval(t, a, `ao.assign({ Processes = { "`+b+`" }, Message = "`+m2.ID()+`" }) return "assigned"`)
		n.waitIdle(t)
		must(t, count(t, b, "Pings") == pings0+2, "b got %d pings", count(t, b, "Pings")-pings0)
		must(t, len(n.uploads(t, n.user.Address(), "Pong")) == pongs0+2, "pong uploads")
	})

	t.Run("spawn from a process", func(t *testing.T) {
		parent, _ := pair(t, "ab")
		spawnEval := n.eval(t, parent, `ao.spawn(ao.env.Module.Id, { Name = "child", Data = "child data" }) return "spawning"`)
		n.waitIdle(t)
		must(t, count(t, parent, "#Children") == 1, "parent saw %d Spawned", count(t, parent, "#Children"))
		child := n.query(t, parent, "return Children[1].Process")
		must(t, len(child) == 43, "child id %q", child)
		must(t, n.query(t, parent, "return Children[1].From") == parent, "Spawned from %q", n.query(t, parent, "return Children[1].From"))
		ref := n.query(t, parent, "return Children[1].Reference")
		// The child exists on the SU, signed by the MU, with the tags of the
		// reference MU, and its boot result was computed.
		resp, body := localnettest.Do(t, "GET", n.suURL+"/processes/"+child, "", nil)
		must(t, resp.StatusCode == 200, "child on the SU: %d %s", resp.StatusCode, body)
		var proc struct {
			Owner struct{ Address string } `json:"owner"`
			Tags  []arweave.Tag            `json:"tags"`
			Data  string                   `json:"data"`
		}
		if err := json.Unmarshal(body, &proc); err != nil {
			t.Fatal(err)
		}
		must(t, proc.Owner.Address == n.muWallet.Address() && proc.Data == "child data", "child %s", body)
		for k, v := range map[string]string{"Type": "Process", "Module": n.mod, "Scheduler": n.su.Address(),
			"From-Process": parent, "From-Module": n.mod, "Pushed-For": spawnEval, "Name": "child", "Reference": ref} {
			got, _ := tagOf(proc.Tags, k)
			must(t, got == v, "child tag %s = %q, want %q (%v)", k, got, v, proc.Tags)
		}
		n.result(t, child, child)
		// The Spawned message on the parent's stream.
		sp := withTag(n.stream(t, parent), "Action", "Spawned")
		must(t, len(sp) == 1, "parent's stream has %d Spawned", len(sp))
		got, _ := tagOf(sp[0].Tags, "Process")
		must(t, got == child && sp[0].Owner == n.muWallet.Address(), "Spawned %+v", sp[0])
	})

	t.Run("faults", func(t *testing.T) {
		a, b := pair(t, "faults")
		b0, a0, s0 := count(t, b, "Pings"), count(t, a, "Pongs"), pings(t, b)
		// The CU fails every result of b (the middle of the chain), and
		// the SU commits the first posts of the MU's items but loses its
		// answers.
		n.cuFault.set(func(r *http.Request, _ []byte) bool {
			return strings.HasPrefix(r.URL.Path, "/result/") && r.URL.Query().Get("process-id") == b
		}, true, false)
		n.suFault.set(func(r *http.Request, body []byte) bool { return r.Method == "POST" && signedBy(body, n.muWallet) }, false, true)
		const sends = 3
		n.eval(t, a, `Send("`+b+`", `+strconv.Itoa(sends)+`) return "sent"`)
		eventually(t, "lost SU answers", func() bool { return n.suFault.count() >= sends })
		n.suFault.clear()
		eventually(t, "CU failures", func() bool { return n.cuFault.count() >= 2*sends })
		retries := n.metric(t, `ao_mu_task_retries_total{kind="result"}`)
		must(t, retries >= 2, "result retries %v", retries)
		n.cuFault.clear()
		n.waitIdle(t)
		must(t, count(t, b, "Pings") == b0+sends, "b got %d pings", count(t, b, "Pings")-b0)
		must(t, count(t, a, "Pongs") == a0+sends, "a got %d pongs", count(t, a, "Pongs")-a0)
		must(t, pings(t, b) == s0+sends, "b's stream: %d pings", pings(t, b)-s0)
	})

	t.Run("restart", func(t *testing.T) {
		a, b := pair(t, "faults")
		b0, a0, s0 := count(t, b, "Pings"), count(t, a, "Pongs"), pings(t, b)
		// The SU commits the MU's items and loses every answer: the MU
		// keeps retrying, with its signed items recorded.
		n.suFault.set(func(r *http.Request, body []byte) bool { return r.Method == "POST" && signedBy(body, n.muWallet) }, false, true)
		hits := n.suFault.count()
		const sends = 2
		n.eval(t, a, `Send("`+b+`", `+strconv.Itoa(sends)+`) return "sent"`)
		eventually(t, "retried posts", func() bool { return n.suFault.count() >= hits+2*sends })
		// And the CU is down when the MU stops.
		n.cuFault.set(nil, true, false)
		cuHits := n.cuFault.count()
		n.stopMU(t)
		n.suFault.clear()
		n.startMU(t)
		eventually(t, "the CU asked again", func() bool { return n.cuFault.count() > cuHits })
		n.cuFault.clear()
		n.waitIdle(t)
		// The new MU posted the same items (a new signature would be a
		// duplicate of the content, and no Pong would come back).
		must(t, count(t, b, "Pings") == b0+sends, "b got %d pings", count(t, b, "Pings")-b0)
		must(t, count(t, a, "Pongs") == a0+sends, "a got %d pongs", count(t, a, "Pongs")-a0)
		must(t, pings(t, b) == s0+sends, "b's stream: %d pings", pings(t, b)-s0)
	})

	t.Run("cycle bound", func(t *testing.T) {
		p1, p2 := pair(t, "faults")
		b0 := count(t, p1, "Bounces") + count(t, p2, "Bounces")
		before := n.metric(t, `ao_mu_dropped_total{reason="max_depth"}`)
		n.eval(t, p1, `ao.send({ Target = "`+p2+`", Action = "Bounce" }) return "go"`)
		n.waitIdle(t)
		got := count(t, p1, "Bounces") + count(t, p2, "Bounces") - b0
		must(t, got == maxDepth, "%d bounces, want %d", got, maxDepth)
		must(t, n.metric(t, `ao_mu_dropped_total{reason="max_depth"}`) == before+1, "drops %v", n.metric(t, `ao_mu_dropped_total{reason="max_depth"}`))
	})

	t.Run("cron monitor", func(t *testing.T) {
		_, rcv := pair(t, "ab")
		ticker := n.spawn(t, "ticker", "Cron-Interval", "10-seconds", "Cron-Tag-Action", "Tick")
		n.waitIdle(t)
		n.evalOK(t, ticker, `
Handlers.add("Tick", Handlers.utils.hasMatchingTag("Action", "Tick"), function (msg)
  ao.send({ Target = "`+rcv+`", Action = "Cron-Ping" })
end)
return "ok"`)
		n.waitIdle(t)
		ticks0 := count(t, rcv, "Ticks")
		_, raw := sign(t, n.user, nil, ticker, "Data-Protocol", "ao", "Type", "Message")
		resp, body := localnettest.Do(t, "POST", n.muURL+"/monitor/"+ticker, "application/octet-stream", raw)
		must(t, resp.StatusCode == 200 && string(body) == "Monitoring process", "monitor: %d %s", resp.StatusCode, body)
		resp, _ = localnettest.Do(t, "POST", n.muURL+"/monitor/"+n.user.Address(), "application/octet-stream", raw)
		must(t, resp.StatusCode == 404, "monitor of no process: %d", resp.StatusCode)
		resp, _ = localnettest.Do(t, "POST", n.muURL+"/monitor/"+ticker, "application/octet-stream", nil)
		must(t, resp.StatusCode == 400, "monitor without an item: %d", resp.StatusCode)
		polls := n.metric(t, `ao_mu_cron_polls_total{result="ok"}`)
		eventually(t, "a cron poll", func() bool { return n.metric(t, `ao_mu_cron_polls_total{result="ok"}`) > polls })

		n.clock.Advance(25 * time.Second)
		crons := func() int {
			resp, body := localnettest.Do(t, "GET", n.cuURL+"/cron/"+ticker, "", nil)
			must(t, resp.StatusCode == 200, "/cron: %d %s", resp.StatusCode, body)
			var p struct{ Edges []json.RawMessage }
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			return len(p.Edges)
		}
		eventually(t, "cron messages delivered", func() bool { return count(t, rcv, "Ticks") >= ticks0+2 })
		n.waitIdle(t)
		fired := crons()
		must(t, fired >= 2 && count(t, rcv, "Ticks") == ticks0+fired, "%d ticks delivered, %d crons", count(t, rcv, "Ticks")-ticks0, fired)
		cp := withTag(n.stream(t, rcv), "Action", "Cron-Ping")
		from, _ := tagOf(cp[0].Tags, "From-Process")
		must(t, from == ticker, "cron ping from %q", from)
		_, hasPushedFor := tagOf(cp[0].Tags, "Pushed-For")
		must(t, !hasPushedFor, "a cron message has a Pushed-For")

		resp, body = localnettest.Do(t, "DELETE", n.muURL+"/monitor/"+ticker, "application/octet-stream", raw)
		must(t, resp.StatusCode == 200 && string(body) == "Process deleted", "unmonitor: %d %s", resp.StatusCode, body)
		resp, _ = localnettest.Do(t, "DELETE", n.muURL+"/monitor/"+ticker, "application/octet-stream", raw)
		must(t, resp.StatusCode == 404, "unmonitor again: %d", resp.StatusCode)
		n.clock.Advance(25 * time.Second)
		time.Sleep(600 * time.Millisecond) // three poll intervals
		n.waitIdle(t)
		must(t, count(t, rcv, "Ticks") == ticks0+fired, "ticks after unmonitor: %d", count(t, rcv, "Ticks")-ticks0)
	})
}

// upload is an item the gateway holds.
type upload struct {
	ID    string
	Owner struct{ Address string }
	Tags  []arweave.Tag
}

// uploads lists the items to recipient with Action=action on the gateway.
func (n *testNet) uploads(t testing.TB, recipient, action string) []upload {
	t.Helper()
	q, _ := json.Marshal(map[string]any{
		"query": `query ($r: [String!], $a: [String!]!) { transactions(recipients: $r, tags: [{name: "Action", values: $a}], first: 100) {
			edges { node { id owner { address } tags { name value } } } } }`,
		"variables": map[string]any{"r": []string{recipient}, "a": []string{action}},
	})
	resp, body := localnettest.Do(t, "POST", n.gwURL+"/graphql", "application/json", q)
	must(t, resp.StatusCode == 200, "graphql: %d %s", resp.StatusCode, body)
	var r struct {
		Data struct {
			Transactions struct {
				Edges []struct{ Node upload }
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("graphql: %s", body)
	}
	var out []upload
	for _, e := range r.Data.Transactions.Edges {
		out = append(out, e.Node)
	}
	return out
}

// signedBy reports whether body is a data item signed by w.
func signedBy(body []byte, w *arweave.Wallet) bool {
	d, err := arweave.ParseDataItem(body)
	return err == nil && d.OwnerAddress() == w.Address()
}
