package mu

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
)

func tg(kv ...string) []arweave.Tag {
	var out []arweave.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, arweave.Tag{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func sameTags(t *testing.T, what string, got, want []arweave.Tag) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// The tags of an aos ao.send, pushed: the reference MU's build-tx.
func TestMessageTags(t *testing.T) {
	aos := tg("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Reference", "7",
		"Action", "Ping", "From-Process", "spoofed", "From-Module", "spoofed", "Assignments", "x", "X-Origin", "o")
	sameTags(t, "with Pushed-For", messageTags(aos, "A", "mod", "root"), tg(
		"Variant", "ao.TN.1", "Reference", "7", "Action", "Ping", "X-Origin", "o",
		"Data-Protocol", "ao", "Type", "Message", "From-Process", "A", "From-Module", "mod", "Pushed-For", "root"))
	sameTags(t, "cron (no Pushed-For)", messageTags(tg("Reply-To", "r", "X-Reference", "3"), "A", "mod", ""), tg(
		"Reply-To", "r", "X-Reference", "3",
		"Data-Protocol", "ao", "Type", "Message", "From-Process", "A", "From-Module", "mod"))
}

// An aos ao.spawn, pushed: the reference MU's spawn-process keeps the
// spawn's Variant and From-Process and adds its own.
func TestSpawnTags(t *testing.T) {
	aos := tg("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "From-Process", "P",
		"From-Module", "old", "Module", "M", "Reference", "2", "Name", "child")
	got, err := spawnTags(aos, "P", "PM", "SU", "root")
	if err != nil {
		t.Fatal(err)
	}
	sameTags(t, "spawn", got, tg("Variant", "ao.TN.1", "From-Process", "P", "From-Module", "PM", "Module", "M",
		"Reference", "2", "Name", "child",
		"Variant", "ao.TN.1", "Data-Protocol", "ao", "Type", "Process", "From-Process", "P", "Pushed-For", "root",
		"Scheduler", "SU"))

	got, err = spawnTags(tg("Module", "M", "Scheduler", "other", "Variant", "ao.N.1"), "P", "PM", "SU", "")
	if err != nil {
		t.Fatal(err)
	}
	sameTags(t, "own scheduler, ao.N.1", got, tg("Module", "M", "Scheduler", "other", "Variant", "ao.N.1",
		"Variant", "ao.N.1", "Data-Protocol", "ao", "Type", "Process", "From-Process", "P"))

	if _, err := spawnTags(tg("Name", "x"), "P", "PM", "SU", ""); err == nil {
		t.Error("a spawn without Module was accepted")
	}
}

// The Spawned message: the reference MU's build-success-tx test vectors.
func TestSpawnedTags(t *testing.T) {
	sameTags(t, "ao.TN.1", spawnedTags(tg("Type", "Process", "Variant", "ao.TN.1", "_Ref", "123", "Foo", "Bar"), "pid-2"),
		tg("_Ref", "123", "Foo", "Bar", "Data-Protocol", "ao", "Type", "Message", "Process", "pid-2", "Action", "Spawned", "Variant", "ao.TN.1"))
	sameTags(t, "ao.N.1", spawnedTags(tg("Type", "Process", "Variant", "ao.N.1", "_Ref", "123", "Foo", "Bar"), "pid-2"),
		tg("_Ref", "123", "Foo", "Bar", "Data-Protocol", "ao", "Type", "Message", "Process", "pid-2", "Action", "Spawned", "Variant", "ao.N.1"))
	// aos: Data-Protocol=ao goes, another Data-Protocol stays; From-Process
	// (the parent) stays, which is what aos's receive matches on.
	sameTags(t, "aos", spawnedTags(tg("Data-Protocol", "ao", "Data-Protocol", "x", "From-Process", "P", "Reference", "4"), "C"),
		tg("Data-Protocol", "x", "From-Process", "P", "Reference", "4",
			"Data-Protocol", "ao", "Type", "Message", "Process", "C", "Action", "Spawned", "Variant", "ao.TN.1"))
}

func TestParseOutMessage(t *testing.T) {
	ok := []string{
		`{"Target":"T","Anchor":"00000000000000000000000000000001","Tags":[],"Data":"x"}`,
		`{"Target":"T","Anchor":null,"Tags":[{"name":"a","value":"b"}]}`,
	}
	for _, s := range ok {
		if _, err := parseOutMessage(json.RawMessage(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		`{"Anchor":"a","Tags":[]}`,                                    // no Target
		`{"Target":"T","Tags":[]}`,                                    // no Anchor key
		`{"Target":"T","Anchor":"a"}`,                                 // no Tags
		`{"Target":"T","Anchor":"a","Tags":null}`,                     // Tags not an array
		`{"Target":"T","Anchor":"a","Tags":[{"name":"a","value":1}]}`, // non-string value
		`{"Target":null,"Anchor":"a","Tags":[]}`,
		`[1]`,
	}
	for _, s := range bad {
		if _, err := parseOutMessage(json.RawMessage(s)); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

func TestItemDataAndAssignments(t *testing.T) {
	raw := func(s string) *json.RawMessage { r := json.RawMessage(s); return &r }
	for _, c := range []struct {
		in   *json.RawMessage
		want string
	}{{nil, " "}, {raw(`null`), " "}, {raw(`""`), " "}, {raw(`"hi"`), "hi"}, {raw(`{"a":1}`), `{"a":1}`}, {raw(`12`), "12"}} {
		if got := string(itemData(c.in)); got != c.want {
			t.Errorf("itemData(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := assignmentsTag(tg("Assignments", `["a","b"]`)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("JSON array: %v", got)
	}
	if got := assignmentsTag(tg("Assignments", "a, b,")); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("list: %v", got)
	}
	if got := assignmentsTag(tg("Other", "x")); got != nil {
		t.Errorf("none: %v", got)
	}
}

func TestItemType(t *testing.T) {
	for _, c := range []struct {
		tags []arweave.Tag
		want string
	}{
		{tg("Data-Protocol", "ao", "Type", "Message"), "Message"},
		{tg("Data-Protocol", "ao", "Type", "Process"), "Process"},
		{tg("Data-Protocol", "ao", "Type", "Process", "Type", "Message"), "Process"},
		{tg("Data-Protocol", "ao", "Type", "Message", "Type", "Process"), "Message"},
		{tg("Type", "Message"), ""},
		{tg("Data-Protocol", "ao", "Type", "Module"), ""},
	} {
		got, err := itemType(c.tags)
		if (err != nil) != (c.want == "") || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.tags, got, err, c.want)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	su := func(status int, body string) error {
		return suDuplicate(&httpError{Op: "su_write", Status: status, Body: body})
	}
	if err := su(400, `{"error":"MessageExists(\"Message already exists\")"}`); !errors.Is(err, errDuplicate) {
		t.Errorf("message exists: %v", err)
	}
	if err := su(400, `{"error":"MessageExists(\"Deep hash already exists\")"}`); !errors.Is(err, errDuplicateContent) {
		t.Errorf("deep hash exists: %v", err)
	}
	if err := su(400, `{"error":"Process does not belong on this SU"}`); errors.Is(err, errDuplicate) || !isPermanent(err) {
		t.Errorf("other 400: %v, permanent %v", err, isPermanent(err))
	}
	for _, st := range []int{202, 404, 408, 429, 500, 502, 503} {
		if isPermanent(&httpError{Status: st}) {
			t.Errorf("%d is permanent", st)
		}
	}
	if !isPermanent(fmt.Errorf("wrapped: %w", permanent(errors.New("bad")))) || isPermanent(errors.New("network")) {
		t.Error("permanent marks")
	}
}
