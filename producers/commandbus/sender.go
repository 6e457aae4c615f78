package commandbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// CommandEncoder turns a command into record value bytes; *schemas.Codec
// is one.
type CommandEncoder interface {
	EncodeCommand(schemas.Command) ([]byte, error)
}

// Tracker learns of commands as they are sent, so that it can answer
// "pending" before their result arrives; *Results is one.
type Tracker interface {
	// Track notes that commandID (of productID) is being sent.
	Track(commandID, productID string)
	// Untrack forgets a command whose send failed.
	Untrack(commandID string)
}

// SenderConfig configures a Sender. The zero value with Brokers set works.
type SenderConfig struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Topic is the commands topic; topics.Commands when "".
	Topic string
	// Tracker, when set, is told of every command before it is produced
	// (and of a failed send after), usually the process's *Results.
	Tracker Tracker
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
	return errors.Join(errs...)
}

// Sender produces commands to the commands topic, keyed by product ID so
// that all commands of one product reach the one decider that owns its
// partition, in order. Its client is idempotent with acks=all (the
// franz-go defaults), and it sends with no linger: a command is one record
// that a person is waiting for.
type Sender struct {
	cl      *kgo.Client
	enc     CommandEncoder
	topic   string
	tracker Tracker
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
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("commandbus: sender client: %w", err)
	}
	return &Sender{cl: cl, enc: enc, topic: cfg.Topic, tracker: cfg.Tracker, log: cfg.Logger}, nil
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

// Send produces cmd and returns once the broker has acknowledged it (all
// in-sync replicas). An IssuedAt of zero is set to now. A failed send may
// still have landed (a timeout after the broker wrote it); a retry with the
// same command ID is safe, since the decider carries out a command ID once.
func (s *Sender) Send(ctx context.Context, cmd schemas.Command) (Sent, error) {
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
	rec := &kgo.Record{
		Topic:     s.topic,
		Key:       []byte(cmd.ProductID),
		Value:     v,
		Headers:   CommandHeaders(cmd),
		Timestamp: cmd.IssuedAt,
	}
	if s.tracker != nil {
		s.tracker.Track(cmd.ID, cmd.ProductID)
	}
	r, err := s.cl.ProduceSync(ctx, rec).First()
	if err != nil {
		if s.tracker != nil {
			s.tracker.Untrack(cmd.ID)
		}
		s.log.Warn("send failed", "topic", s.topic, "aggregate_id", cmd.ProductID, "command_id", cmd.ID, "err", err)
		return Sent{}, fmt.Errorf("send %s command %s of %s to %s: %w", cmd.Type(), cmd.ID, cmd.ProductID, s.topic, err)
	}
	return Sent{CommandID: cmd.ID, ProductID: cmd.ProductID, Partition: r.Partition, Offset: r.Offset}, nil
}

// Close flushes nothing (Send is synchronous) and closes the client.
func (s *Sender) Close() { s.cl.Close() }
