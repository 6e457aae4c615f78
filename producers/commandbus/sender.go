package commandbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// CommandEncoder turns a command into record value bytes; *schemas.Codec
// is one.
type CommandEncoder interface {
	EncodeCommand(schemas.Command) ([]byte, error)
}

// Claim is a command that a Sender is about to write, as its Tracker sees
// it.
type Claim struct {
	CommandID string
	ProductID string
	// KeyID (KeyID of the command's Idempotency-Key) and Fingerprint
	// (Request.Fingerprint of the request that made it) are "" for a
	// command without a key.
	KeyID       string
	Fingerprint string
}

// Tracker learns of commands as they are written, so that it can answer
// "pending" once Kafka has them and hold a retry off while they are being
// written; *Results is one.
type Tracker interface {
	// Claim notes that c is being written. For a keyed c it returns
	// ErrInFlight while another send of the key is being written and
	// ErrKeyReused when the key is bound to another fingerprint; the Sender
	// then writes nothing.
	Claim(c Claim) error
	// Release ends a successful Claim once the write is over: written says
	// whether Kafka has the command (it is pending then) or not (its key is
	// free again).
	Release(c Claim, written bool)
}

// DefaultDeliveryTimeout is SenderConfig.DeliveryTimeout's default.
const DefaultDeliveryTimeout = 10 * time.Second

// SenderConfig configures a Sender. The zero value with Brokers set works.
type SenderConfig struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Topic is the commands topic; topics.Commands when "".
	Topic string
	// Tracker, when set, claims every command before it is produced and
	// is told after whether Kafka has it; usually the process's *Results.
	Tracker Tracker
	// DeliveryTimeout bounds each send: a command that Kafka has not
	// acknowledged by then fails with ErrTimeout (the API answers 503).
	// DefaultDeliveryTimeout (10s) when 0.
	DeliveryTimeout time.Duration
	// Logger receives errors; nil discards.
	Logger *slog.Logger
	// ClientOpts are extra Kafka client options (TLS, SASL, a dialer),
	// applied after the sender's own.
	ClientOpts []kgo.Opt
}

// Validate reports every problem at once.
func (c SenderConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("commandbus: sender: Brokers is required"))
	}
	if c.DeliveryTimeout < 0 {
		errs = append(errs, fmt.Errorf("commandbus: sender: DeliveryTimeout must not be negative, got %v", c.DeliveryTimeout))
	}
	return errors.Join(errs...)
}

// Sender produces commands to the commands topic, keyed by product ID so
// that all commands of one product reach the one decider that owns its
// partition, in order. Its client is idempotent with acks=all (the
// franz-go defaults), and it sends with no linger: a command is one record
// that a person is waiting for.
//
// A send is bounded by the delivery timeout. The client may fail a record
// that is already on the wire when its time is up
// (kgo.AllowIdempotentProduceCancellation), since without that a broker
// that accepts and never answers would hold the send for good; such a
// record may still land. A keyed command is then safe: its retry has the
// same command ID, which the decider carries out once, and Results learns
// of the landed record from the commands topic. A command without a key
// that landed so is carried out although its sender was told it failed.
type Sender struct {
	cl      *kgo.Client
	enc     CommandEncoder
	topic   string
	tracker Tracker
	timeout time.Duration
	log     *slog.Logger
}

// NewSender returns a sender; Close it when done.
func NewSender(cfg SenderConfig, enc CommandEncoder) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if enc == nil {
		return nil, errors.New("commandbus: sender: nil encoder")
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Commands
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		// A command waits for no other, so a batch holds one or a few: too
		// little for compression to shrink, while compressing costs this
		// process and the broker (which decompresses each batch to
		// validate it) CPU on the command's path: produced one at a time,
		// 16 in flight, a snappy record cost the broker 36-38 µs of CPU and
		// the producer 32-34, an uncompressed one 24-30 and 23-28 (see
		// docs/performance.md, session 16).
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// The context of each record holds the exact bound; franz-go takes
		// no record timeout under a second.
		kgo.RecordDeliveryTimeout(max(cfg.DeliveryTimeout, time.Second)),
		kgo.AllowIdempotentProduceCancellation(),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("commandbus: sender client: %w", err)
	}
	return &Sender{cl: cl, enc: enc, topic: cfg.Topic, tracker: cfg.Tracker, timeout: cfg.DeliveryTimeout, log: cfg.Logger}, nil
}

// Sent says where a command landed.
type Sent struct {
	CommandID string
	ProductID string
	Partition int32
	Offset    int64
}

// ErrNoID is returned by Send for a command without a command or product
// ID: the decider could neither answer nor route it.
var ErrNoID = errors.New("commandbus: command needs a commandId and a productId")

// ErrTimeout is returned by Send when Kafka has not acknowledged the
// command within the delivery timeout.
var ErrTimeout = errors.New("commandbus: Kafka did not take the command within the delivery timeout")

// Send is SendBound without a fingerprint: a keyed command is held off
// while another send of its key is being written, but not checked against
// the request that first used the key.
func (s *Sender) Send(ctx context.Context, cmd schemas.Command) (Sent, error) {
	return s.SendBound(ctx, cmd, "")
}

// SendBound produces cmd and returns once the broker has acknowledged it
// (all in-sync replicas), or ErrTimeout after the delivery timeout, or
// ctx's error. An IssuedAt of zero is set to now. For a command with an
// IdempotencyKey, fingerprint (Request.Fingerprint) binds the key to its
// request in the record's headers; the Tracker refuses the send with
// ErrInFlight or ErrKeyReused (see Tracker.Claim). A failed send may still
// have landed (see Sender); a retry with the same command ID is safe, since
// the decider carries out a command ID once.
func (s *Sender) SendBound(ctx context.Context, cmd schemas.Command, fingerprint string) (Sent, error) {
	if cmd.ID == "" || cmd.ProductID == "" {
		return Sent{}, ErrNoID
	}
	if cmd.IssuedAt.IsZero() {
		cmd.IssuedAt = time.Now().UTC().Truncate(time.Millisecond)
	}
	v, err := s.enc.EncodeCommand(cmd)
	if err != nil {
		return Sent{}, fmt.Errorf("encode %s command %s of %s: %w", cmd.Type(), cmd.ID, cmd.ProductID, err)
	}
	c := Claim{CommandID: cmd.ID, ProductID: cmd.ProductID, KeyID: KeyID(cmd.IdempotencyKey)}
	headers := CommandHeaders(cmd)
	if c.KeyID != "" {
		c.Fingerprint = fingerprint
		headers = append(headers, kgo.RecordHeader{Key: HeaderKeyID, Value: []byte(c.KeyID)})
		if fingerprint != "" {
			headers = append(headers, kgo.RecordHeader{Key: HeaderFingerprint, Value: []byte(fingerprint)})
		}
	}
	rec := &kgo.Record{
		Topic:     s.topic,
		Key:       []byte(cmd.ProductID),
		Value:     v,
		Headers:   headers,
		Timestamp: cmd.IssuedAt,
	}
	if s.tracker != nil {
		if err := s.tracker.Claim(c); err != nil {
			return Sent{}, fmt.Errorf("send %s command %s of %s: %w", cmd.Type(), cmd.ID, cmd.ProductID, err)
		}
	}

	// The record's context ends with the delivery timeout, so that the
	// client drops a record it could not write in time. The claim is
	// released when the client reports on the record, not when this call
	// gives up waiting: until then a retry of the key is told to wait
	// (ErrInFlight), never that a command is pending that may yet fail.
	pctx, cancel := context.WithTimeoutCause(ctx, s.timeout, ErrTimeout)
	defer cancel()
	done := make(chan error, 1)
	s.cl.Produce(pctx, rec, func(_ *kgo.Record, err error) {
		if s.tracker != nil {
			s.tracker.Release(c, err == nil)
		}
		done <- err
	})
	select {
	case err = <-done:
	case <-pctx.Done():
		select {
		case err = <-done: // reported in the same instant
		default:
			err = context.Cause(pctx)
		}
	}
	if err != nil {
		if !errors.Is(err, ErrTimeout) && (errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		level := slog.LevelWarn
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo // the caller went away, or the server is stopping
		}
		s.log.Log(context.Background(), level, "send failed", logkey.Topic, s.topic, logkey.AggregateID, cmd.ProductID, logkey.CommandID, cmd.ID, "err", err)
		return Sent{}, fmt.Errorf("send %s command %s of %s to %s: %w", cmd.Type(), cmd.ID, cmd.ProductID, s.topic, err)
	}
	return Sent{CommandID: cmd.ID, ProductID: cmd.ProductID, Partition: rec.Partition, Offset: rec.Offset}, nil
}

// Close flushes nothing (Send is synchronous) and closes the client.
func (s *Sender) Close() { s.cl.Close() }
