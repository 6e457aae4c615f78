package schemas

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// A schema and its Go type must agree field for field, or NewCodec fails.
func TestPlanRejectsMismatch(t *testing.T) {
	tests := []struct {
		name, fields, wantErr string
	}{
		{"extra Avro field", `{"name":"amount","type":"long"},{"name":"currency","type":"string"},{"name":"rate","type":"long"}`, "no Go field"},
		{"missing Avro field", `{"name":"amount","type":"long"}`, "Go fields without an Avro field: currency"},
		{"wrong type", `{"name":"amount","type":"string"},{"name":"currency","type":"string"}`, "cannot hold Go int64"},
		{"optional without pointer", `{"name":"amount","type":["null","long"]},{"name":"currency","type":"string"}`, "pointer or slice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var schema map[string]any
			if err := json.Unmarshal([]byte(`{"type":"record","name":"x.Money","fields":[`+tc.fields+`]}`), &schema); err != nil {
				t.Fatal(err)
			}
			_, err := newPlan(schema, reflect.TypeFor[Money]())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}
