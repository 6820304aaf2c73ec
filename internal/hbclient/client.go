package hbclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/httpretry"
)

// Defaults of Options.
const (
	DefaultMaxBodySize   = 512 << 20 // the reference's Fastify bodyLimit is 512 MB; a page can be as large
	DefaultTimeout       = 5 * time.Minute
	DefaultKeepSlots     = 4096 // slots remembered per process
	DefaultKeepProcesses = 1024
	scanPage             = 1000 // slots per request when searching a timestamp
)

// Options configures a Client.
type Options struct {
	// URL is HB_URL: the HyperBEAM node (no trailing slash).
	URL string
	// LegacySU, with LegacySUURL, is asked for a process's message when slot
	// 0 on HyperBEAM is not a Process (HB_LEGACY_SU_URL). The reference
	// hard-codes https://su-router.ao-testnet.xyz; nil: no fallback.
	LegacySU    ao.Scheduler
	LegacySUURL string
	// HTTPClient sends the requests (a client with DefaultTimeout if nil).
	HTTPClient *http.Client
	// Retries and Delay: httpretry's policy (the reference's 5 × 500 ms).
	Retries int
	Delay   time.Duration
	Logger  *slog.Logger
	// MaxBodySize bounds an answer of HyperBEAM (DefaultMaxBodySize if 0).
	MaxBodySize int64
	// Resolve, when set, tells the slot the engine stands at when it resumes
	// at a timestamp this client has not seen (after a restart: the store's
	// last evaluation or file checkpoint). Without an answer the client
	// searches HyperBEAM's schedule.
	Resolve func(ctx context.Context, pid string, ts int64) (slot int64, ok bool)
	// Skips receives the slots HyperBEAM marked Skip (nil: none recorded).
	Skips *Skips
	// KeepSlots and KeepProcesses bound what the client remembers.
	KeepSlots     int
	KeepProcesses int
}

// Client is an ao.Scheduler over a HyperBEAM scheduler. It is safe for
// concurrent use. The suURL arguments of the port are ignored: a HyperBEAM
// unit reads every process from Options.URL.
type Client struct {
	opts  Options
	http  *http.Client
	retry httpretry.Policy
	log   *slog.Logger

	mu    sync.Mutex
	procs map[string]*procSlots
	tick  uint64
}

// procSlots is what the client knows of one process's schedule.
type procSlots struct {
	slots     map[int64]*Slot
	positions map[int64]int64 // timestamp -> slot, from Remember
	used      uint64
}

var _ ao.Scheduler = (*Client)(nil)

// New makes a Client.
func New(opts Options) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("hbclient: the HyperBEAM URL (HB_URL) is required")
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	if opts.KeepSlots <= 0 {
		opts.KeepSlots = DefaultKeepSlots
	}
	if opts.KeepProcesses <= 0 {
		opts.KeepProcesses = DefaultKeepProcesses
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{opts: opts, http: opts.HTTPClient, log: opts.Logger, procs: map[string]*procSlots{},
		retry: httpretry.Policy{Retries: opts.Retries, Delay: opts.Delay, Logger: opts.Logger, Name: "hbclient", Key: "url"}.WithDefaults()}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	return c, nil
}

// Error prefixes of the reference (effects/hb/index.js).
const (
	prefixProcess   = "Error Encountered when loading process from Scheduler Unit"
	prefixTimestamp = "Error Encountered when loading timestamp for process from Scheduler Unit"
	prefixMessage   = "Error Encountered when loading message from Scheduler Unit"
	prefixMessages  = "Encountered Error fetching scheduled messages from Scheduler Unit"
)

// ScheduleURL is the request the reference makes: target, from, to, limit,
// accept, in that order, the unset ones left out.
func ScheduleURL(base, pid string, from, to *int64, limit int) string {
	v := base + "/~scheduler@1.0/schedule?target=" + url.QueryEscape(pid)
	if from != nil {
		v += "&from=" + strconv.FormatInt(*from, 10)
	}
	if to != nil {
		v += "&to=" + strconv.FormatInt(*to, 10)
	}
	if limit > 0 {
		v += "&limit=" + strconv.Itoa(limit)
	}
	return v + "&accept=application%2Faos-2"
}

func i64(n int64) *int64 { return &n }

// get fetches one aos-2 page.
func (c *Client) get(ctx context.Context, prefix, pid string, from, to *int64, limit int) (*hbPage, bool, error) {
	u := ScheduleURL(c.opts.URL, pid, from, to, limit)
	var body []byte
	err := c.retry.Do(ctx, u, func(int) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Accept", "application/aos-2")
		resp, err := c.http.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		var retry bool
		body, retry, err = httpretry.Read(resp, c.opts.MaxBodySize)
		return retry, err
	})
	if err != nil {
		return nil, false, httpretry.Fail(fmt.Errorf("%s: %w", prefix, err))
	}
	p, more, err := parsePage(body)
	if err != nil {
		return nil, false, ao.WithStatus(http.StatusBadGateway, fmt.Errorf("%s: %s: %w", prefix, u, err))
	}
	return p, more, nil
}

// fetch reads slots from HyperBEAM, remembers them and returns them in order.
func (c *Client) fetch(ctx context.Context, prefix, pid string, from, to *int64, limit int) ([]*Slot, bool, error) {
	p, more, err := c.get(ctx, prefix, pid, from, to, limit)
	if err != nil {
		return nil, false, err
	}
	out := make([]*Slot, 0, len(p.Edges))
	for i := range p.Edges {
		s, err := toSlot(pid, &p.Edges[i])
		if err != nil {
			return nil, false, ao.WithStatus(http.StatusBadGateway, fmt.Errorf("%s: HyperBEAM %s, process %s: %w", prefix, c.opts.URL, pid, err))
		}
		out = append(out, s)
	}
	c.remember(pid, out)
	return out, more, nil
}

// Offer records the slots of a page HyperBEAM posted (POST /result/<slot>'s
// body), so that they are evaluated without asking HyperBEAM for them.
func (c *Client) Offer(pid string, body []byte) ([]*Slot, error) {
	p, _, err := parsePage(body)
	if err != nil {
		return nil, err
	}
	if p.PageInfo.Process != "" && p.PageInfo.Process != pid {
		return nil, fmt.Errorf("the page is for process %s, not %s", p.PageInfo.Process, pid)
	}
	out := make([]*Slot, 0, len(p.Edges))
	for i := range p.Edges {
		s, err := toSlot(pid, &p.Edges[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	c.remember(pid, out)
	return out, nil
}

// Remember records that the process's state at slot has timestamp ts (a
// memory restored through POST /state), so that the evaluation resumes at
// slot+1.
func (c *Client) Remember(pid string, slot, ts int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.procLocked(pid)
	ps.positions[ts] = slot
}

func (c *Client) procLocked(pid string) *procSlots {
	c.tick++
	ps := c.procs[pid]
	if ps == nil {
		if len(c.procs) >= c.opts.KeepProcesses {
			var victim string
			var oldest uint64
			for id, p := range c.procs {
				if victim == "" || p.used < oldest {
					victim, oldest = id, p.used
				}
			}
			delete(c.procs, victim)
		}
		ps = &procSlots{slots: map[int64]*Slot{}, positions: map[int64]int64{}}
		c.procs[pid] = ps
	}
	ps.used = c.tick
	return ps
}

func (c *Client) remember(pid string, slots []*Slot) {
	if len(slots) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.procLocked(pid)
	for _, s := range slots {
		ps.slots[s.Slot] = s
		if s.Skip && c.opts.Skips != nil && s.Edge.Message != nil {
			c.opts.Skips.add(s.MessageID, s.Slot)
		}
	}
	if over := len(ps.slots) - c.opts.KeepSlots; over > 0 {
		keys := make([]int64, 0, len(ps.slots))
		for k := range ps.slots {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys[:over] {
			delete(ps.slots, k)
		}
	}
	if len(ps.positions) > c.opts.KeepSlots {
		ps.positions = map[int64]int64{}
	}
}

func (c *Client) known(pid string, slot int64) *Slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps := c.procs[pid]; ps != nil {
		return ps.slots[slot]
	}
	return nil
}

// SlotAt returns a slot: remembered, else read from HyperBEAM.
func (c *Client) SlotAt(ctx context.Context, pid string, slot int64) (*Slot, error) {
	if s := c.known(pid, slot); s != nil {
		return s, nil
	}
	got, _, err := c.fetch(ctx, prefixMessage, pid, i64(slot), i64(slot), 1)
	if err != nil {
		return nil, err
	}
	for _, s := range got {
		if s.Slot == slot {
			return s, nil
		}
	}
	return nil, ao.Errorf(http.StatusNotFound, "%s: slot %d of process %s is not scheduled on HyperBEAM %s", prefixMessage, slot, pid, c.opts.URL)
}

// Process is slot 0 of the schedule, which is the process message on
// HyperBEAM (GET ...schedule?target=<pid>&from=0&to=1&limit=1, as the
// reference asks).
func (c *Client) Process(ctx context.Context, _ string, pid string) (*ao.SUProcess, error) {
	s := c.known(pid, 0)
	if s == nil {
		got, _, err := c.fetch(ctx, prefixProcess, pid, i64(0), i64(1), 1)
		if err != nil {
			return nil, err
		}
		if len(got) > 0 && got[0].Slot == 0 {
			s = got[0]
		}
	}
	if s != nil && s.Edge.Message != nil {
		if t, _ := ao.TagValue(s.Edge.Message.Tags, "Type"); t == "Process" {
			m := s.Edge.Message
			p := &ao.SUProcess{Process: ao.Process{ID: pid, Owner: m.Owner, Tags: m.Tags,
				Block: ao.Block{Height: s.Height, Timestamp: s.Timestamp}}, Data: m.Data}
			p.Signature = unquoted(m.Signature)
			p.Anchor = unquoted(m.Anchor)
			return p, nil
		}
	}
	if c.opts.LegacySU != nil {
		return c.opts.LegacySU.Process(ctx, c.opts.LegacySUURL, pid)
	}
	if s == nil {
		return nil, ao.Errorf(http.StatusNotFound, "%s: HyperBEAM %s has no slot 0 for process %s", prefixProcess, c.opts.URL, pid)
	}
	return nil, ao.Errorf(http.StatusBadGateway, "%s: slot 0 of process %s on HyperBEAM %s is not a Process message, and no legacy SU is configured (HB_LEGACY_SU_URL)",
		prefixProcess, pid, c.opts.URL)
}

// Message locates a message: by slot (the decimal numbers HyperBEAM asks
// with), else by id among the slots this client has seen.
func (c *Client) Message(ctx context.Context, _ string, messageID, pid string) (*ao.MessageMeta, error) {
	if slot, ok := ParseSlot(messageID); ok {
		s, err := c.SlotAt(ctx, pid, slot)
		if err != nil {
			return nil, err
		}
		return &ao.MessageMeta{ProcessID: pid, Timestamp: s.Timestamp, Nonce: s.Slot}, nil
	}
	c.mu.Lock()
	var found *Slot
	if ps := c.procs[pid]; ps != nil {
		for _, s := range ps.slots {
			if s.MessageID == messageID && (found == nil || s.Slot < found.Slot) {
				found = s
			}
		}
	}
	c.mu.Unlock()
	if found == nil {
		return nil, ao.Errorf(http.StatusNotFound, "%s: message %s of process %s is unknown to this HyperBEAM unit; ask for it by slot (/result/<slot>)", prefixMessage, messageID, pid)
	}
	return &ao.MessageMeta{ProcessID: pid, Timestamp: found.Timestamp, Nonce: found.Slot}, nil
}

// Latest is not part of HyperBEAM's scheduler API as the sidecar uses it.
func (c *Client) Latest(context.Context, string, string) (*ao.MessageMeta, error) {
	return nil, ao.Errorf(http.StatusNotImplemented, "the latest message of a process is not read from HyperBEAM")
}

// Timestamp is the page_info of ...schedule?target=<pid>&from=0&to=0&limit=1.
func (c *Client) Timestamp(ctx context.Context, _ string, pid string) (int64, int64, error) {
	p, _, err := c.get(ctx, prefixTimestamp, pid, i64(0), i64(0), 1)
	if err != nil {
		return 0, 0, err
	}
	ts, err1 := strconv.ParseInt(tagValue(p.PageInfo.Timestamp), 10, 64)
	h, err2 := strconv.ParseInt(tagValue(p.PageInfo.BlockHeight), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, ao.Errorf(http.StatusBadGateway, "%s: page_info timestamp %s or block-height %s is not an integer", prefixTimestamp, p.PageInfo.Timestamp, p.PageInfo.BlockHeight)
	}
	return ts, h, nil
}

// Messages is one page of slots after from (a cursor of this client, or the
// timestamp the engine stands at; "" for the start) up to the timestamp to
// ("" for the latest). Slots HyperBEAM posted are served without a request.
func (c *Client) Messages(ctx context.Context, _ string, pid, from, to string, limit int) (*ao.SUPage, error) {
	if limit <= 0 {
		limit = scanPage
	}
	var start int64
	if from != "" {
		if n, ok := parseCursor(from); ok {
			start = n + 1
		} else {
			ts, err := strconv.ParseInt(from, 10, 64)
			if err != nil {
				return nil, ao.Errorf(http.StatusBadRequest, "%s: from %q is neither a cursor nor a timestamp", prefixMessages, from)
			}
			if start, err = c.slotAfter(ctx, pid, ts); err != nil {
				return nil, err
			}
		}
	}
	var toTS *int64
	if to != "" {
		ts, err := strconv.ParseInt(to, 10, 64)
		if err != nil {
			return nil, ao.Errorf(http.StatusBadRequest, "%s: to %q is not a timestamp", prefixMessages, to)
		}
		toTS = &ts
	}
	page := &ao.SUPage{}
	next := start
	for len(page.Edges) < limit {
		s := c.known(pid, next)
		if s == nil {
			break
		}
		if toTS != nil && s.Timestamp > *toTS {
			return page, nil
		}
		page.Edges = append(page.Edges, s.Edge)
		next++
		if toTS != nil && s.Timestamp == *toTS && c.known(pid, next) == nil {
			// The slot HyperBEAM asked for: nothing after it is known.
			return page, nil
		}
	}
	if len(page.Edges) >= limit {
		page.HasNextPage = true
		return page, nil
	}
	// One slot more than the page holds tells whether a next page is due.
	want := limit - len(page.Edges)
	got, more, err := c.fetch(ctx, prefixMessages, pid, i64(next), nil, want+1)
	if err != nil {
		return nil, err
	}
	for i, s := range got {
		if toTS != nil && s.Timestamp > *toTS {
			return page, nil
		}
		if i == want {
			page.HasNextPage = true
			return page, nil
		}
		page.Edges = append(page.Edges, s.Edge)
	}
	page.HasNextPage = more && len(got) > 0
	return page, nil
}

// slotAfter is the first slot after the state at timestamp ts.
func (c *Client) slotAfter(ctx context.Context, pid string, ts int64) (int64, error) {
	c.mu.Lock()
	best := int64(-1)
	if ps := c.procs[pid]; ps != nil {
		if n, ok := ps.positions[ts]; ok {
			c.mu.Unlock()
			return n + 1, nil
		}
		for _, s := range ps.slots {
			if s.Timestamp == ts && s.Slot > best {
				best = s.Slot
			}
		}
	}
	c.mu.Unlock()
	if c.opts.Resolve != nil {
		if n, ok := c.opts.Resolve(ctx, pid, ts); ok {
			return n + 1, nil
		}
	}
	if best >= 0 {
		return best + 1, nil
	}
	// Search the schedule: the first slot with a later timestamp.
	c.log.Info("hbclient: searching HyperBEAM's schedule for a timestamp", "process", pid, "timestamp", ts)
	from := int64(0)
	for {
		got, more, err := c.fetch(ctx, prefixMessages, pid, i64(from), nil, scanPage)
		if err != nil {
			return 0, err
		}
		for _, s := range got {
			if s.Timestamp > ts {
				return s.Slot, nil
			}
			from = s.Slot + 1
		}
		if !more || len(got) == 0 {
			return from, nil
		}
	}
}

func unquoted(v []byte) string {
	if v == nil {
		return ""
	}
	s := tagValue(v)
	if s == "null" {
		return ""
	}
	return s
}

// Gateway is the gateway of a HyperBEAM unit: every process is located at
// HyperBEAM; modules, blocks and items come from the wrapped gateway.
type Gateway struct {
	ao.Gateway
	URL string
}

// Locate returns the HyperBEAM node.
func (g Gateway) Locate(context.Context, string, string) (string, error) { return g.URL, nil }
