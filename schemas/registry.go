package schemas

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Register registers every current message schema with the registry under
// its subject and remembers the IDs, which encoding needs and decoding then
// finds without a lookup. Registering an unchanged schema again returns its
// existing ID, so every process can call Register at start. The registry's
// compatibility rules apply: an incompatible change fails here, before
// anything is written.
func (c *Codec) Register(ctx context.Context) error {
	if c.reg == nil {
		return ErrNoRegistry
	}
	for _, m := range c.cat.list {
		subject := c.subject(m.info.Name)
		id, err := c.reg.RegisterSchema(ctx, subject, sr.Schema{Schema: m.info.Schema, Type: sr.TypeAvro}, -1, -1)
		if err != nil {
			return fmt.Errorf("schemas: register %s under subject %q: %w", m.info.Name, subject, err)
		}
		c.mu.Lock()
		c.idOf[m.info.Name] = id
		c.ids[id] = m.w
		c.mu.Unlock()
	}
	return nil
}

// writerByID resolves a Confluent schema ID: from the cache, else from the
// registry, matched by fingerprint to an embedded schema (so that retired
// schemas are upcast) or compiled as it is. A registry that cannot be
// reached gives an error that is not ErrUnknownSchema: worth a retry.
func (c *Codec) writerByID(id int) (*writer, error) {
	c.mu.RLock()
	w := c.ids[id]
	c.mu.RUnlock()
	if w != nil {
		return w, nil
	}
	if c.reg == nil {
		return nil, fmt.Errorf("%w: Confluent framing with schema ID %d", ErrNoRegistry, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.lookupTimeout)
	defer cancel()
	s, err := c.reg.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, &UnknownSchemaError{ID: id, Err: err}
		}
		return nil, fmt.Errorf("schemas: look up schema ID %d: %w", id, err)
	}
	if s.Type != sr.TypeAvro {
		return nil, &UnknownSchemaError{ID: id, Err: fmt.Errorf("a %s schema, not Avro", s.Type)}
	}
	gc, err := goavro.NewCodec(s.Schema)
	if err != nil { // such as one with references, which we do not resolve
		return nil, &UnknownSchemaError{ID: id, Err: err}
	}
	fp, err := Fingerprint(s.Schema)
	if err != nil {
		return nil, &UnknownSchemaError{ID: id, Err: err}
	}
	w = c.cat.byFP[fp]
	if w == nil {
		w = &writer{name: recordName(s.Schema), codec: gc}
	}
	c.mu.Lock()
	c.ids[id] = w
	c.mu.Unlock()
	return w, nil
}
