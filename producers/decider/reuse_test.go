package decider

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// TestKeyReusedAfterTheAPIForgotIt: an API instance that no longer knows an
// Idempotency-Key's binding (it keeps MaxResults of them) sends a request
// that reuses the key with another body. Its command ID is the first
// request's (key, method and path), so the decider answers it with the
// first outcome and changes nothing; the answer names the first request's
// fingerprint, before and after a restart of the decider (read back from
// the results), so that the API can refuse the second request and bind the
// key to the first again.
func TestKeyReusedAfterTheAPIForgotIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		create bool // the product exists: the first request is accepted
		status string
	}{
		{"accepted", true, schemas.StatusAccepted},
		{"rejected", false, schemas.StatusRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3)
			b := f.bus(t)
			first := f.start(t, f.config(), nil)
			pid := commandbus.NewID()
			if tc.create {
				b.do(t, createCmd(pid, 100))
			}

			key := "key-" + pid
			path := "/v1/products/" + pid + "/price"
			keyed := func(price int64) (schemas.Command, string) { return keyedPrice(pid, key, price) }
			ctx := waitFor(t, 60*time.Second)
			cmd, fp := keyed(200)
			if _, err := b.send.SendBound(ctx, cmd, fp); err != nil {
				t.Fatal(err)
			}
			want, err := b.results.Wait(ctx, cmd.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want.Status != tc.status || want.Fingerprint != fp {
				t.Fatalf("first outcome %+v, want %s for fingerprint %s", want, tc.status, fp)
			}

			// The forgetful API: it keeps one binding, and another key's
			// command pushes this key's out.
			api := f.forgetfulBus(t)
			other := priceCmd(pid, 150)
			other.IdempotencyKey, other.ID = "other-"+pid, commandbus.CommandID("other-"+pid, "PUT", path)
			if _, err := api.send.SendBound(ctx, other, "f0"); err != nil {
				t.Fatal(err)
			}
			if _, err := api.results.Wait(ctx, other.ID); err != nil {
				t.Fatal(err)
			}
			if bd, bound := api.results.Bound(commandbus.KeyID(key)); bound {
				t.Fatalf("the forgetful API still knows the key: %+v", bd)
			}
			reuse, reuseFP := keyed(300)
			if _, err := api.send.SendBound(ctx, reuse, reuseFP); err != nil {
				t.Fatalf("the forgetful API sends the reuse: %v", err)
			}
			last := func(bus *bus) {
				t.Helper()
				// Decided after the reuse: one partition, in order.
				if res := bus.do(t, priceCmd(pid, 250)); tc.create && res.Status != schemas.StatusAccepted {
					t.Fatalf("a later change: %+v", res)
				}
			}
			last(api)
			if bd, _ := api.results.Bound(commandbus.KeyID(key)); bd.CommandID != cmd.ID || bd.Fingerprint != fp {
				t.Errorf("the forgetful API binds the key to %+v, want the first request's %s", bd, fp)
			}

			first.stop(t)
			second := f.start(t, f.config(), nil)
			raw, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands}, f.codec)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			again, againFP := keyed(400)
			if _, err := raw.SendBound(ctx, again, againFP); err != nil {
				t.Fatal(err)
			}
			last(b)

			answers := 0
			for _, r := range f.readResults(t) {
				if r.CommandID != cmd.ID {
					continue
				}
				answers++
				if r.Status != want.Status || r.Version != want.Version || !r.DecidedAt.Equal(want.DecidedAt) || r.Fingerprint != fp {
					t.Errorf("answer %+v, want the first outcome %+v with the first request's fingerprint", r, want)
				}
			}
			if answers != 3 {
				t.Errorf("%d results for the command, want 3", answers)
			}
			caused := 0
			for _, e := range f.readEvents(t) {
				if e.Metadata.CausationID == cmd.ID {
					caused++
				}
			}
			if wantEvents := map[bool]int{true: 1, false: 0}[tc.create]; caused != wantEvents {
				t.Errorf("%d events caused by the command, want %d", caused, wantEvents)
			}
			if st := second.d.Stats(); st.Duplicates != 1 || st.Rebuilds == 0 {
				t.Errorf("second decider stats %+v, want 1 duplicate after a rebuild", st)
			}
		})
	}
}

// forgetfulBus is bus with a results reader that keeps one key binding.
func (f *fixture) forgetfulBus(t *testing.T) *bus {
	t.Helper()
	b := f.busWith(t, commandbus.ResultsConfig{Brokers: f.brokers, Topic: f.result, CommandsTopic: f.commands, LookBack: -1, MaxResults: 1})
	select {
	case <-b.results.Ready(): // what it knows at its start is read
	case <-waitFor(t, 60*time.Second).Done():
		t.Fatal("the results reader did not catch up in 60 s")
	}
	return b
}

// keyedPrice is the price change of product pid to price that a PUT
// /v1/products/{pid}/price with Idempotency-Key key makes, and its
// request's fingerprint: every price with one key is one command ID.
func keyedPrice(pid, key string, price int64) (schemas.Command, string) {
	path := "/v1/products/" + pid + "/price"
	c := priceCmd(pid, price)
	c.IdempotencyKey = key
	c.ID = commandbus.CommandID(key, "PUT", path)
	return c, commandbus.Request{Method: "PUT", Path: path, Body: fmt.Appendf(nil, `{"price":{"amount":%d,"currency":"EUR"}}`, price)}.Fingerprint()
}
