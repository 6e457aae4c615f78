package schemas

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Codec turns events, commands and command results into bytes and back.
// It writes Avro single-object encoding (0xC3 0x01, the 8-byte
// little-endian CRC-64-AVRO fingerprint of the writer schema, the Avro
// binary), or with WithRegistry, after Register, Confluent framing (0x00,
// the 4-byte big-endian schema ID, the Avro binary). It reads both,
// whatever it writes, so that a topic can move from one to the other.
//
// Encoding does not validate; call Validate first where a value comes from
// outside. A Codec is safe for concurrent use.
type Codec struct {
	cat           *catalog
	reg           *sr.Client
	subject       func(recordName string) string
	lookupTimeout time.Duration

	mu   sync.RWMutex
	ids  map[int]*writer // registry ID → writer, for decoding
	idOf map[string]int  // full name → registry ID, for encoding
}

// Option configures a Codec.
type Option func(*Codec)

// WithRegistry makes the codec write Confluent framing with IDs from cl
// (after Register) and resolve the IDs it reads through cl. Without it the
// codec writes single-object encoding and rejects Confluent framing with
// ErrNoRegistry.
func WithRegistry(cl *sr.Client) Option { return func(c *Codec) { c.reg = cl } }

// WithSubjectNamer sets the registry subject of each record (full name in,
// subject out). The default, RecordNameSubject, lets one topic carry many
// event types; the topic-name strategy (<topic>-value) would allow only
// one schema per topic.
func WithSubjectNamer(fn func(recordName string) string) Option {
	return func(c *Codec) { c.subject = fn }
}

// WithLookupTimeout bounds a registry lookup made while decoding an ID not
// seen before (default 10s). Decode methods take no context because almost
// every ID is cached after its first use.
func WithLookupTimeout(d time.Duration) Option { return func(c *Codec) { c.lookupTimeout = d } }

// RecordNameSubject is Confluent's RecordNameStrategy: the subject is the
// record's full name, such as io.streamview.catalog.ProductCreated.
func RecordNameSubject(recordName string) string { return recordName }

// NewCodec builds a codec from the embedded schemas. It fails if a schema
// does not compile or does not match its Go type.
func NewCodec(opts ...Option) (*Codec, error) {
	cat, err := builtin()
	if err != nil {
		return nil, err
	}
	c := &Codec{
		cat:           cat,
		subject:       RecordNameSubject,
		lookupTimeout: 10 * time.Second,
		ids:           make(map[int]*writer),
		idOf:          make(map[string]int),
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// SchemaFor describes the current schema of a type name (ProductCreated,
// CreateProduct, CommandResult) or full Avro name.
func (c *Codec) SchemaFor(typ string) (SchemaInfo, bool) {
	m := c.cat.byType[typ]
	if m == nil {
		m = c.cat.byName[typ]
	}
	if m == nil {
		return SchemaInfo{}, false
	}
	info := m.info
	c.mu.RLock()
	info.ID = c.idOf[info.Name]
	c.mu.RUnlock()
	return info, true
}

// Schemas describes every current message schema, by full name.
func (c *Codec) Schemas() []SchemaInfo {
	out := make([]SchemaInfo, 0, len(c.cat.list))
	for _, m := range c.cat.list {
		info, _ := c.SchemaFor(m.info.Name)
		out = append(out, info)
	}
	return out
}

// EncodeEvent encodes e; its Data decides the schema.
func (c *Codec) EncodeEvent(e Event) ([]byte, error) {
	m, data, err := c.payload(KindEvent, e.Type(), e.Data)
	if err != nil {
		return nil, err
	}
	return c.encode(m, reflect.ValueOf(e), data)
}

// EncodeCommand encodes cmd; its Data decides the schema.
func (c *Codec) EncodeCommand(cmd Command) ([]byte, error) {
	m, data, err := c.payload(KindCommand, cmd.Type(), cmd.Data)
	if err != nil {
		return nil, err
	}
	return c.encode(m, reflect.ValueOf(cmd), data)
}

// EncodeResult encodes r.
func (c *Codec) EncodeResult(r CommandResult) ([]byte, error) {
	return c.encode(c.cat.byType[TypeCommandResult], reflect.ValueOf(r))
}

// DecodeEvent decodes an event in either framing, upcasting a retired
// writer schema to the current type. Bytes written with the current schema,
// almost all of them, are read straight into the Go values (binary.go);
// others go through goavro.
func (c *Codec) DecodeEvent(b []byte) (Event, error) { return c.decodeEvent(b, true) }

// DecodeCommand decodes a command in either framing.
func (c *Codec) DecodeCommand(b []byte) (Command, error) { return c.decodeCommand(b, true) }

// DecodeResult decodes a command result in either framing.
func (c *Codec) DecodeResult(b []byte) (CommandResult, error) { return c.decodeResult(b, true) }

// decodeEvent, decodeCommand and decodeResult take direct false to decode
// through goavro even what could be read directly, which the tests compare.
func (c *Codec) decodeEvent(b []byte, direct bool) (Event, error) {
	m, w, body, err := c.resolve(b, KindEvent)
	if err != nil {
		return Event{}, err
	}
	var e Event
	data := m.newEvent()
	if err := m.decode(w, body, direct, reflect.ValueOf(&e).Elem(), reflect.ValueOf(data).Elem()); err != nil {
		return Event{}, err
	}
	e.Data = data
	return e, nil
}

func (c *Codec) decodeCommand(b []byte, direct bool) (Command, error) {
	m, w, body, err := c.resolve(b, KindCommand)
	if err != nil {
		return Command{}, err
	}
	var cmd Command
	data := m.newCommand()
	if err := m.decode(w, body, direct, reflect.ValueOf(&cmd).Elem(), reflect.ValueOf(data).Elem()); err != nil {
		return Command{}, err
	}
	cmd.Data = data
	return cmd, nil
}

func (c *Codec) decodeResult(b []byte, direct bool) (CommandResult, error) {
	m, w, body, err := c.resolve(b, KindResult)
	if err != nil {
		return CommandResult{}, err
	}
	var r CommandResult
	if err := m.decode(w, body, direct, reflect.ValueOf(&r).Elem()); err != nil {
		return CommandResult{}, err
	}
	return r, nil
}

// payload finds the schema of a payload and dereferences it.
func (c *Codec) payload(kind Kind, typ string, data any) (*message, reflect.Value, error) {
	if data == nil {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s without data", ErrUnknownType, kind)
	}
	m := c.cat.byType[typ]
	if m == nil || m.info.Kind != kind {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s of type %q (%T)", ErrUnknownType, kind, typ, data)
	}
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Type() != m.rec.types[1] {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s data %T is not a non-nil *%s", ErrUnknownType, kind, data, typ)
	}
	return m, v.Elem(), nil
}

func (c *Codec) encode(m *message, srcs ...reflect.Value) ([]byte, error) {
	buf, err := c.header(m)
	if err != nil {
		return nil, err
	}
	if buf, err = m.w.codec.BinaryFromNative(buf, m.rec.encode(srcs...)); err != nil {
		return nil, fmt.Errorf("schemas: encode %s: %w", m.info.Type, err)
	}
	return buf, nil
}

// header starts a message with its framing: Confluent with a registry,
// single-object encoding without.
func (c *Codec) header(m *message) ([]byte, error) {
	buf := make([]byte, 0, 256)
	if c.reg == nil {
		buf = append(buf, soeMagic0, soeMagic1)
		return binary.LittleEndian.AppendUint64(buf, m.info.Fingerprint), nil
	}
	c.mu.RLock()
	id, ok := c.idOf[m.info.Name]
	c.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, m.info.Name)
	}
	buf = append(buf, confluentMagic)
	return binary.BigEndian.AppendUint32(buf, uint32(id)), nil
}

// resolve finds b's writer schema and checks that it is of the kind asked
// for; it returns the message type, the writer and the Avro binary.
func (c *Codec) resolve(b []byte, want Kind) (*message, *writer, []byte, error) {
	w, body, err := c.writerOf(b)
	if err != nil {
		return nil, nil, nil, err
	}
	m := w.msg
	if m == nil {
		m = c.cat.byName[w.name]
	}
	if m == nil || m.info.Kind != want {
		got := "no message type"
		if m != nil {
			got = m.info.Kind.String()
		}
		return nil, nil, nil, fmt.Errorf("%w: want %s, got %s (%s)", ErrUnknownType, want, w.name, got)
	}
	return m, w, body, nil
}

// decode sets srcs, zero on entry, from body, written with w. With direct
// set, bytes written with m's current schema are read directly
// (binary.go); others, and those the direct read gives up on, go through
// goavro's native form, upcast to the current shape, and are resolved by
// field name.
func (m *message) decode(w *writer, body []byte, direct bool, srcs ...reflect.Value) error {
	if direct && w == m.w {
		err := m.rec.readAll(body, srcs...)
		if err == nil {
			return nil
		}
		if err != errFallback {
			return malformed("%s: %w", m.info.Type, err)
		}
		for _, v := range srcs {
			v.SetZero()
		}
	}
	n, rest, err := w.codec.NativeFromBinary(body)
	if err != nil {
		return malformed("%s: %v", m.info.Type, err)
	}
	if len(rest) > 0 {
		return malformed("%s: %d bytes after the record", m.info.Type, len(rest))
	}
	native, ok := n.(map[string]any)
	if !ok {
		return malformed("%s: not a record", m.info.Type)
	}
	if w.up != nil {
		if native, err = w.up(native); err != nil {
			return malformed("%s: upcast: %v", m.info.Type, err)
		}
	}
	if err := m.rec.decode(native, srcs...); err != nil {
		return malformed("%s: %v", m.info.Type, err)
	}
	return nil
}

// maxBlockCount bounds the items goavro reads in one array block. goavro
// reserves room for a block's items before reading them, and its default
// bound is 2^31-1: one hostile count in a record of a retired schema (the
// ones decoded through goavro) would make it ask for tens of gigabytes and
// kill the process. A record arrives in one Kafka message, so no honest
// block holds more items than a message has bytes.
const maxBlockCount = 1 << 20

func init() {
	if goavro.MaxBlockCount > maxBlockCount {
		goavro.MaxBlockCount = maxBlockCount
	}
}

// Framing bytes.
const (
	soeMagic0, soeMagic1 = 0xC3, 0x01
	soeHeaderLen         = 10
	confluentMagic       = 0x00
	confluentHeaderLen   = 5
)

// writerOf reads the framing of b and finds its writer schema.
func (c *Codec) writerOf(b []byte) (*writer, []byte, error) {
	switch {
	case len(b) == 0:
		return nil, nil, malformed("empty")
	case b[0] == soeMagic0:
		if len(b) < soeHeaderLen || b[1] != soeMagic1 {
			return nil, nil, malformed("short or bad single-object header % x", b[:min(len(b), soeHeaderLen)])
		}
		fp := binary.LittleEndian.Uint64(b[2:soeHeaderLen])
		w := c.cat.byFP[fp]
		if w == nil {
			return nil, nil, &UnknownSchemaError{Fingerprint: fp}
		}
		return w, b[soeHeaderLen:], nil
	case b[0] == confluentMagic:
		if len(b) < confluentHeaderLen {
			return nil, nil, malformed("short Confluent header % x", b)
		}
		w, err := c.writerByID(int(binary.BigEndian.Uint32(b[1:confluentHeaderLen])))
		return w, b[confluentHeaderLen:], err
	}
	return nil, nil, malformed("unknown framing, first byte %#02x", b[0])
}
