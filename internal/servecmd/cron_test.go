package servecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The expected cron sequence is built here from the reference's algorithm
// (ref-cu.md §3.6 B) as a plain tick loop, independently of internal/cron.

type cronBlock struct{ height, ts int64 }

type cronEvent struct {
	ts      int64
	id, ord string
	height  int64
}

type cronDef struct {
	id     string
	value  int64
	blocks bool
}

func expectedCrons(origin cronBlock, crons []cronDef, left cronBlock, leftOrd string, right int64, blocks []cronBlock) []cronEvent {
	var inRange []cronBlock
	for _, b := range blocks {
		if b.ts > left.ts && b.ts < right {
			inRange = append(inRange, b)
		}
	}
	cur := left
	var out []cronEvent
	for t := left.ts; t < right; t += 1000 {
		if len(inRange) > 0 && t/1000 >= inRange[0].ts/1000 {
			cur, inRange = inRange[0], inRange[1:]
			for _, c := range crons {
				if c.blocks && cur.height != origin.height && (cur.height-origin.height)%c.value == 0 {
					out = append(out, cronEvent{cur.ts, c.id, leftOrd, cur.height})
				}
			}
		}
		for _, c := range crons {
			s, o := t/1000, origin.ts/1000
			if !c.blocks && s != o && (s-o)%c.value == 0 {
				out = append(out, cronEvent{t, c.id, leftOrd, cur.height})
			}
		}
	}
	return out
}

func TestServeCron(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{manualBlocks: true})
	ctx := context.Background()
	mine := func() cronBlock {
		b, err := n.gw.Mine(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cronBlock{b.Height, b.Timestamp * 1000}
	}
	var blocks []cronBlock
	blocks = append(blocks, mine())
	pid := n.spawn(t, "", "Cron-Interval", "10-seconds", "Cron-Tag-Action", "Tick",
		"Cron-Interval", "2-blocks", "Cron-Tag-Action", "Block-Tick", "Cron-Tag-Note", "every other block")
	// The schedule: blocks and one message between the crons.
	var sched []cronBlock // scheduled messages: ts and block height
	var nonces []string
	boot := n.result(t, pid, pid)
	noError(t, boot)
	r := n.result(t, pid, n.eval(t, pid, `
Ticks = {}
Handlers.add("Tick", Handlers.utils.hasMatchingTag("Action", "Tick"), function (msg)
  table.insert(Ticks, "t" .. msg.Timestamp .. "@" .. msg["Block-Height"])
end)
Handlers.add("Block-Tick", Handlers.utils.hasMatchingTag("Action", "Block-Tick"), function (msg)
  table.insert(Ticks, "b" .. msg.Timestamp .. "@" .. msg["Block-Height"] .. ":" .. msg.Tags.Note)
end)
return "ok"`))
	noError(t, r)
	for i := 0; i < 4; i++ {
		n.clock.Advance(4 * time.Second)
		blocks = append(blocks, mine())
	}
	// This message lands in the second of a 10-second cron, after its tick:
	// the reference fires that second twice (the duplicate quirk).
	n.clock.Advance(4 * time.Second)
	n.result(t, pid, n.eval(t, pid, `return #Ticks`))
	for i := 0; i < 3; i++ {
		n.clock.Advance(7 * time.Second)
		blocks = append(blocks, mine())
	}
	n.clock.Advance(5 * time.Second)

	// Every cron up to the SU's clock.
	code, body := n.get(t, "/cron/"+pid)
	must(t, code == 200, "/cron: %d %s", code, body)
	after := n.clock.Now().UnixMilli()
	var page resultsPage
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Edges {
		c := cursorOf(t, e.Cursor)
		got = append(got, fmt.Sprintf("%.0f,%v,%v", c["timestamp"], c["ordinate"], c["cron"]))
	}

	// The expected sequence, from the SU's own schedule.
	var su struct {
		Edges []struct {
			Node struct {
				Assignment struct{ Tags []replayTag } `json:"assignment"`
			} `json:"node"`
		} `json:"edges"`
	}
	sc, sb := doGet(t, n.suURL+"/"+pid+"?process-id="+pid)
	if sc != 200 || json.Unmarshal(sb, &su) != nil {
		t.Fatalf("SU: %d %s", sc, sb)
	}
	for _, e := range su.Edges {
		at := map[string]string{}
		for _, tg := range e.Node.Assignment.Tags {
			at[tg.Name] = tg.Value
		}
		ts, _ := strconv.ParseInt(at["Timestamp"], 10, 64)
		h, _ := strconv.ParseInt(at["Block-Height"], 10, 64)
		sched = append(sched, cronBlock{h, ts})
		nonces = append(nonces, at["Nonce"])
	}
	crons := []cronDef{{"0-2-blocks", 2, true}, {"0-10-seconds", 10, false}}
	origin := sched[0]
	var want []cronEvent
	seen := map[string]bool{}
	add := func(evs []cronEvent) {
		for _, e := range evs {
			k := fmt.Sprint(e.ts, "-", e.id)
			if !seen[k] {
				seen[k] = true
				want = append(want, e)
			}
		}
	}
	for i := 1; i < len(sched); i++ {
		add(expectedCrons(origin, crons, sched[i-1], nonces[i-1], sched[i].ts, blocks))
	}
	last := sched[len(sched)-1]
	// The right boundary is the SU's clock when the CU asked: between the
	// last message and `after`; the schedule leaves no cron near either end.
	add(expectedCrons(origin, crons, last, nonces[len(nonces)-1], after, blocks))
	var wantS []string
	var blockCrons, timeCrons int
	for _, e := range want {
		wantS = append(wantS, fmt.Sprintf("%d,%s,%s", e.ts, e.ord, e.id))
		if strings.HasSuffix(e.id, "blocks") {
			blockCrons++
		} else {
			timeCrons++
		}
	}
	must(t, blockCrons >= 2 && timeCrons >= 4, "the scenario should fire both kinds: %v", wantS)
	dupSecond := false
	for i := 1; i < len(want); i++ {
		dupSecond = dupSecond || (want[i].id == want[i-1].id && want[i].ts/1000 == want[i-1].ts/1000)
	}
	must(t, dupSecond, "the scenario should contain the duplicate-second case: %v", wantS)
	must(t, strings.Join(got, "\n") == strings.Join(wantS, "\n"), "cron results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantS, "\n"))

	// The process saw them, with their tags, timestamps and heights.
	var ticks []string
	for _, e := range want {
		if strings.HasSuffix(e.id, "blocks") {
			ticks = append(ticks, fmt.Sprintf("b%d@%d:every other block", e.ts, e.height))
		} else {
			ticks = append(ticks, fmt.Sprintf("t%d@%d", e.ts, e.height))
		}
	}
	dry := n.dryRun(t, pid, `{"Owner":"`+n.user.Address()+`","Tags":[{"name":"Action","value":"Eval"}],"Data":"return table.concat(Ticks, ',')"}`)
	must(t, outputData(t, dry) == strings.Join(ticks, ","), "ticks in the process:\n%s\nwant:\n%s", outputData(t, dry), strings.Join(ticks, ","))
}
