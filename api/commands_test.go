package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

const (
	productID = "0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10"
	otherID   = "5f0e3c2a-8b1d-4c6e-9f7a-1d2b3c4d5e6f"
)

const createBody = `{"name":"Trail Shoe","description":"Light.","price":{"amount":"89.9","currency":"EUR"},
	"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"ACME",
	"tags":["trail","run"],"imageUrls":["https://img.example/1.jpg"],"stock":12}`

func ptr[T any](v T) *T { return &v }

func TestCommandsArePublished(t *testing.T) {
	tests := []struct {
		name      string
		req       request
		productID string // "" when generated
		want      schemas.CommandData
	}{
		{
			name: "create",
			req:  request{method: "POST", path: "/v1/products", body: createBody},
			want: &schemas.CreateProduct{
				Name: "Trail Shoe", Description: "Light.", Price: schemas.Money{Amount: 8990, Currency: "EUR"},
				CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
				Tags: []string{"trail", "run"}, ImageURLs: []string{"https://img.example/1.jpg"}, Stock: 12,
			},
		},
		{
			name: "create with productId in upper case, no optional fields",
			req: request{method: "POST", path: "/v1/products", body: `{"productId":"` + strings.ToUpper(productID) + `",
				"name":"Cap","description":"","price":{"amount":"5","currency":"EUR"},
				"categoryId":"hats","categoryName":"Hats","brandId":"acme","brandName":"ACME","tags":null}`},
			productID: productID,
			want: &schemas.CreateProduct{Name: "Cap", Price: schemas.Money{Amount: 500, Currency: "EUR"},
				CategoryID: "hats", CategoryName: "Hats", BrandID: "acme", BrandName: "ACME"},
		},
		{
			name: "content type with charset",
			req: request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":0}`,
				header: map[string]string{"Content-Type": "application/json; charset=UTF-8"}},
			productID: productID,
			want:      &schemas.ChangeProductStock{Quantity: 0},
		},
		{
			name:      "update details",
			req:       request{method: "PATCH", path: "/v1/products/" + productID, body: `{"name":"Trail Shoe 2","tags":[],"brandId":"zeta","brandName":"Zeta"}`},
			productID: productID,
			want: &schemas.UpdateProductDetails{Name: ptr("Trail Shoe 2"), Tags: []string{},
				BrandID: ptr("zeta"), BrandName: ptr("Zeta")},
		},
		{
			name:      "update nothing",
			req:       request{method: "PATCH", path: "/v1/products/" + productID, body: `{}`},
			productID: productID,
			want:      &schemas.UpdateProductDetails{},
		},
		{
			name:      "change price, amounts compare by value",
			req:       request{method: "PUT", path: "/v1/products/" + productID + "/price", body: `{"price":{"amount":"24.50","currency":"EUR"}}`},
			productID: productID,
			want:      &schemas.ChangeProductPrice{Price: schemas.Money{Amount: 2450, Currency: "EUR"}},
		},
		{
			name:      "change stock",
			req:       request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":7}`},
			productID: productID,
			want:      &schemas.ChangeProductStock{Quantity: 7},
		},
		{
			name:      "add review",
			req:       request{method: "POST", path: "/v1/products/" + productID + "/reviews", body: `{"rating":5,"userId":"u-1","comment":"Great."}`},
			productID: productID,
			want:      &schemas.AddProductReview{Rating: 5, UserID: "u-1", Comment: "Great."},
		},
		{
			name:      "discontinue without a body",
			req:       request{method: "DELETE", path: "/v1/products/" + strings.ToUpper(productID)},
			productID: productID,
			want:      &schemas.DiscontinueProduct{},
		},
		{
			name:      "discontinue with a reason",
			req:       request{method: "DELETE", path: "/v1/products/" + productID, body: `{"reason":"recalled"}`},
			productID: productID,
			want:      &schemas.DiscontinueProduct{Reason: "recalled"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus})
			before := time.Now().UTC().Add(-time.Second)
			w := serve(t, s.Handler(), tt.req)
			if w.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", w.Code, w.Body)
			}
			got := decodeAs[commandStatus](t, w)
			sent := bus.commands()
			if len(sent) != 1 {
				t.Fatalf("bus got %d commands, want 1", len(sent))
			}
			cmd := sent[0]
			if got.Status != "pending" || got.CommandID != cmd.ID || got.ProductID != cmd.ProductID || got.Version != 0 {
				t.Errorf("answer = %+v, want pending with the command's IDs %s, %s", got, cmd.ID, cmd.ProductID)
			}
			if loc := w.Header().Get("Location"); loc != "/v1/commands/"+cmd.ID {
				t.Errorf("Location = %q, want /v1/commands/%s", loc, cmd.ID)
			}
			if !schemas.IsUUID(cmd.ID) || !schemas.IsUUID(cmd.ProductID) || cmd.ProductID != strings.ToLower(cmd.ProductID) {
				t.Errorf("IDs %q, %q: want lower-case UUIDs", cmd.ID, cmd.ProductID)
			}
			if tt.productID != "" && cmd.ProductID != tt.productID {
				t.Errorf("productId = %s, want %s", cmd.ProductID, tt.productID)
			}
			if !reflect.DeepEqual(cmd.Data, tt.want) {
				t.Errorf("payload = %#v,\nwant %#v", cmd.Data, tt.want)
			}
			wantMeta := schemas.Metadata{CorrelationID: cmd.ID, CausationID: cmd.ID, UserID: "anonymous"}
			if cmd.Metadata != wantMeta {
				t.Errorf("metadata = %+v, want %+v", cmd.Metadata, wantMeta)
			}
			if cmd.IssuedAt.Before(before) || cmd.IssuedAt.Location() != time.UTC {
				t.Errorf("issuedAt = %v, want now in UTC", cmd.IssuedAt)
			}
			if cmd.ExpectedVersion != nil || cmd.IdempotencyKey != "" {
				t.Errorf("expectedVersion %v, idempotencyKey %q: want none", cmd.ExpectedVersion, cmd.IdempotencyKey)
			}
		})
	}
}

func TestCommandHeaders(t *testing.T) {
	tests := []struct {
		name     string
		header   map[string]string
		wantMeta schemas.Metadata // CausationID is always the command ID
		wantVer  *int64
		wantKey  string
	}{
		{"metadata", map[string]string{"X-Correlation-ID": "corr-1", "X-User-ID": "alice"},
			schemas.Metadata{CorrelationID: "corr-1", UserID: "alice"}, nil, ""},
		{"if-match", map[string]string{"If-Match": `"3"`}, schemas.Metadata{UserID: "anonymous"}, ptr(int64(3)), ""},
		{"if-match star is ignored", map[string]string{"If-Match": `*`}, schemas.Metadata{UserID: "anonymous"}, nil, ""},
		{"idempotency key", map[string]string{"Idempotency-Key": "k-1"}, schemas.Metadata{UserID: "anonymous"}, nil, "k-1"},
		{"quoted idempotency key", map[string]string{"Idempotency-Key": `"k-1"`}, schemas.Metadata{UserID: "anonymous"}, nil, "k-1"},
		{"unknown preferences are ignored", map[string]string{"Prefer": `respond-async, return=minimal; x="a,b"`},
			schemas.Metadata{UserID: "anonymous"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":1}`, header: tt.header})
			if w.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", w.Code, w.Body)
			}
			cmd := bus.commands()[0]
			want := tt.wantMeta
			want.CausationID = cmd.ID
			if want.CorrelationID == "" {
				want.CorrelationID = cmd.ID
			}
			if cmd.Metadata != want {
				t.Errorf("metadata = %+v, want %+v", cmd.Metadata, want)
			}
			if !reflect.DeepEqual(cmd.ExpectedVersion, tt.wantVer) {
				t.Errorf("expectedVersion = %v, want %v", cmd.ExpectedVersion, tt.wantVer)
			}
			if cmd.IdempotencyKey != tt.wantKey {
				t.Errorf("idempotencyKey = %q, want %q", cmd.IdempotencyKey, tt.wantKey)
			}
			if tt.wantKey != "" {
				if want := commandbus.CommandID(tt.wantKey, "PUT", "/v1/products/"+productID+"/stock"); cmd.ID != want {
					t.Errorf("commandId = %s, want commandbus.CommandID of the key: %s", cmd.ID, want)
				}
			}
		})
	}
}

// TestCommandsRefused runs every 4xx a command can get before it is
// published, and checks that nothing was.
func TestCommandsRefused(t *testing.T) {
	stock := "/v1/products/" + productID + "/stock"
	price := "/v1/products/" + productID + "/price"
	reviews := "/v1/products/" + productID + "/reviews"
	details := "/v1/products/" + productID
	withCreate := func(replace, with string) string {
		if !strings.Contains(createBody, replace) {
			panic("createBody has no " + replace)
		}
		return strings.Replace(createBody, replace, with, 1)
	}
	tests := []struct {
		name   string
		req    request
		status int
		fields []string
	}{
		// 400: malformed.
		{"not JSON", request{method: "POST", path: "/v1/products", body: `{"name":`}, 400, []string{""}},
		{"syntax error", request{method: "PUT", path: stock, body: `{"quantity" 1}`}, 400, []string{""}},
		{"empty body", request{method: "PUT", path: stock, header: map[string]string{"Content-Type": "application/json"}}, 400, []string{""}},
		{"an array", request{method: "PUT", path: stock, body: `[{"quantity":1}]`}, 400, []string{""}},
		{"a string", request{method: "PUT", path: stock, body: `"x"`}, 400, []string{""}},
		{"null", request{method: "PUT", path: stock, body: `null`}, 400, []string{""}},
		{"not UTF-8", request{method: "PATCH", path: details, body: "{\"name\":\"caf\xe9\"}"}, 400, []string{""}},
		{"unknown field", request{method: "PUT", path: stock, body: `{"quantity":1,"colour":"red"}`}, 400, []string{"colour"}},
		{"unknown field in price", request{method: "PUT", path: price, body: `{"price":{"amount":"1.00","currency":"EUR","cents":100}}`}, 400, []string{"price.cents"}},
		{"null body", request{method: "DELETE", path: details, body: `null`}, 400, []string{""}},
		{"productId in a patch", request{method: "PATCH", path: details, body: `{"productId":"` + productID + `"}`}, 400, []string{"productId"}},
		{"name is a number", request{method: "POST", path: "/v1/products", body: withCreate(`"name":"Trail Shoe"`, `"name":5`)}, 400, []string{"name"}},
		{"amount is a number", request{method: "PUT", path: price, body: `{"price":{"amount":19.99,"currency":"EUR"}}`}, 400, []string{"price.amount"}},
		{"price is a string", request{method: "PUT", path: price, body: `{"price":"19.99 EUR"}`}, 400, []string{"price"}},
		{"quantity is a string", request{method: "PUT", path: stock, body: `{"quantity":"5"}`}, 400, []string{"quantity"}},
		{"quantity is a fraction", request{method: "PUT", path: stock, body: `{"quantity":1.5}`}, 400, []string{"quantity"}},
		{"quantity overflows", request{method: "PUT", path: stock, body: `{"quantity":99999999999999999999}`}, 400, []string{"quantity"}},
		{"tags is a string", request{method: "PATCH", path: details, body: `{"tags":"a,b"}`}, 400, []string{"tags"}},
		{"a tag is a number", request{method: "PATCH", path: details, body: `{"tags":["a",1]}`}, 400, []string{"tags"}},
		{"a tag is null", request{method: "PATCH", path: details, body: `{"tags":["a",null]}`}, 400, []string{"tags[1]"}},
		{"a tag is null on create", request{method: "POST", path: "/v1/products", body: withCreate(`"tags":["trail","run"]`, `"tags":[null,"run"]`)}, 400, []string{"tags[0]"}},
		{"an image URL is null", request{method: "PATCH", path: details, body: `{"imageUrls":["https://img.example/1.jpg", null]}`}, 400, []string{"imageUrls[1]"}},
		{"rating is a bool", request{method: "POST", path: reviews, body: `{"rating":true,"userId":"u"}`}, 400, []string{"rating"}},
		{"trailing object", request{method: "PUT", path: stock, body: `{"quantity":1}{"quantity":2}`}, 400, []string{""}},
		{"trailing garbage", request{method: "PUT", path: stock, body: `{"quantity":1} x`}, 400, []string{""}},
		{"path ID not a UUID", request{method: "PUT", path: "/v1/products/shoe-1/stock", body: `{"quantity":1}`}, 400, []string{"id"}},
		{"path ID too short", request{method: "DELETE", path: "/v1/products/" + productID[1:]}, 400, []string{"id"}},
		{"Prefer wait=abc", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": "wait=abc"}}, 400, []string{"Prefer"}},
		{"Prefer wait=-1", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": "respond-async, wait=-1"}}, 400, []string{"Prefer"}},
		{"Prefer wait without value", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": "wait"}}, 400, []string{"Prefer"}},
		{"Prefer wait=1.5", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": "wait=1.5"}}, 400, []string{"Prefer"}},
		{"If-Match unquoted", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": "x"}}, 400, []string{"If-Match"}},
		{"If-Match unquoted number", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": "3"}}, 400, []string{"If-Match"}},
		{"If-Match not a version", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": `"abc"`}}, 400, []string{"If-Match"}},
		{"If-Match leading zero", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": `"03"`}}, 400, []string{"If-Match"}},
		{"Prefer wait quoted empty", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": `wait=""`}}, 400, []string{"Prefer"}},
		{"Prefer wait quoted word", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Prefer": `wait="soon"`}}, 400, []string{"Prefer"}},
		{"If-Match weak", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": `W/"3"`}}, 400, []string{"If-Match"}},
		{"If-Match two versions", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"If-Match": `"3", "4"`}}, 400, []string{"If-Match"}},
		{"Idempotency-Key too long", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400, []string{"Idempotency-Key"}},
		{"Idempotency-Key badly quoted", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Idempotency-Key": `"a"b"`}}, 400, []string{"Idempotency-Key"}},
		{"X-User-ID too long", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"X-User-ID": strings.Repeat("u", 201)}}, 400, []string{"X-User-ID"}},
		// 413, 415.
		{"body over 1 MiB", request{method: "PATCH", path: details, body: `{"description":"` + strings.Repeat("x", 1<<20) + `"}`}, 413, nil},
		{"text/plain", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, []string{"Content-Type"}},
		{"no content type", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Content-Type": ""}}, 415, []string{"Content-Type"}},
		{"latin-1", request{method: "PUT", path: stock, body: `{"quantity":1}`, header: map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}}, 415, []string{"Content-Type"}},
		{"a form", request{method: "POST", path: "/v1/products", body: `name=x`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, []string{"Content-Type"}},
		{"delete with a body of another type", request{method: "DELETE", path: details, body: `reason`, header: map[string]string{"Content-Type": "text/plain"}}, 415, []string{"Content-Type"}},
		// 422: well-formed, invalid values.
		{"price zero", request{method: "PUT", path: price, body: `{"price":{"amount":"0.00","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		{"price negative", request{method: "PUT", path: price, body: `{"price":{"amount":"-1","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		{"price with three decimals", request{method: "PUT", path: price, body: `{"price":{"amount":"19.999","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		// API.md: at most the currency's minor-unit digits, zeros too.
		{"price with a third decimal of zero", request{method: "PUT", path: price, body: `{"price":{"amount":"24.500","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		{"price not a decimal", request{method: "PUT", path: price, body: `{"price":{"amount":"1e3","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		{"price too large", request{method: "PUT", path: price, body: `{"price":{"amount":"99999999999999999999","currency":"EUR"}}`}, 422, []string{"price.amount"}},
		{"price in another currency", request{method: "PUT", path: price, body: `{"price":{"amount":"19.99","currency":"USD"}}`}, 422, []string{"price.currency"}},
		{"price without currency", request{method: "PUT", path: price, body: `{"price":{"amount":"19.99"}}`}, 422, []string{"price.currency"}},
		{"price empty", request{method: "PUT", path: price, body: `{"price":{}}`}, 422, []string{"price.amount", "price.currency"}},
		{"price missing", request{method: "PUT", path: price, body: `{}`}, 422, []string{"price"}},
		{"price null", request{method: "PUT", path: price, body: `{"price":null}`}, 422, []string{"price"}},
		{"name empty", request{method: "POST", path: "/v1/products", body: withCreate(`"name":"Trail Shoe"`, `"name":""`)}, 422, []string{"name"}},
		{"name too long", request{method: "POST", path: "/v1/products", body: withCreate(`"name":"Trail Shoe"`, `"name":"`+strings.Repeat("é", 201)+`"`)}, 422, []string{"name"}},
		{"name missing", request{method: "POST", path: "/v1/products", body: withCreate(`"name":"Trail Shoe",`, ``)}, 422, []string{"name"}},
		{"description missing", request{method: "POST", path: "/v1/products", body: withCreate(`"description":"Light.",`, ``)}, 422, []string{"description"}},
		{"productId not a UUID", request{method: "POST", path: "/v1/products", body: withCreate(`{`, `{"productId":"p-1",`)}, 422, []string{"productId"}},
		{"stock negative", request{method: "POST", path: "/v1/products", body: withCreate(`"stock":12`, `"stock":-1`)}, 422, []string{"stock"}},
		{"image URL not http", request{method: "POST", path: "/v1/products", body: withCreate(`https://img.example/1.jpg`, `ftp://img.example/1.jpg`)}, 422, []string{"imageUrls[0]"}},
		{"every bad field at once", request{method: "POST", path: "/v1/products", body: `{"name":"","description":"",
			"price":{"amount":"1.234","currency":"USD"},"categoryId":"c","categoryName":"C","brandId":"","brandName":"B","tags":["a","a"],"stock":-2}`},
			422, []string{"name", "price.amount", "price.currency", "brandId", "tags[1]", "stock"}},
		{"rating zero", request{method: "POST", path: reviews, body: `{"rating":0,"userId":"u"}`}, 422, []string{"rating"}},
		{"rating six", request{method: "POST", path: reviews, body: `{"rating":6,"userId":"u"}`}, 422, []string{"rating"}},
		{"rating huge", request{method: "POST", path: reviews, body: `{"rating":4294967297,"userId":"u"}`}, 422, []string{"rating"}},
		{"rating missing", request{method: "POST", path: reviews, body: `{"userId":"u"}`}, 422, []string{"rating"}},
		{"review without user", request{method: "POST", path: reviews, body: `{"rating":3}`}, 422, []string{"userId"}},
		{"quantity negative", request{method: "PUT", path: stock, body: `{"quantity":-1}`}, 422, []string{"quantity"}},
		{"quantity missing", request{method: "PUT", path: stock, body: `{}`}, 422, []string{"quantity"}},
		{"patch null name", request{method: "PATCH", path: details, body: `{"name":null}`}, 422, []string{"name"}},
		{"patch null tags", request{method: "PATCH", path: details, body: `{"tags":null}`}, 422, []string{"tags"}},
		{"patch empty name", request{method: "PATCH", path: details, body: `{"name":""}`}, 422, []string{"name"}},
		{"patch category without name", request{method: "PATCH", path: details, body: `{"categoryId":"c"}`}, 422, []string{"categoryName"}},
		{"discontinue reason too long", request{method: "DELETE", path: details, body: `{"reason":"` + strings.Repeat("r", 2001) + `"}`}, 422, []string{"reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider = accept(1)
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), tt.req)
			wantProblem(t, w, tt.status, tt.fields...)
			if n := len(bus.commands()); n != 0 {
				t.Errorf("bus got %d commands, want none", n)
			}
		})
	}
}

func TestBodyOverLimitWithoutLength(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	body := `{"description":"` + strings.Repeat("x", 1<<20) + `"}`
	r := httptest.NewRequest("PATCH", "/v1/products/"+productID, strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	r.ContentLength = -1 // as with chunked encoding: only reading finds out
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	wantProblem(t, w, http.StatusRequestEntityTooLarge)
	if n := len(bus.commands()); n != 0 {
		t.Errorf("bus got %d commands, want none", n)
	}
}

func TestPreferWait(t *testing.T) {
	update := request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":3}`, header: map[string]string{"Prefer": "wait=10"}}
	create := request{method: "POST", path: "/v1/products", body: createBody, header: map[string]string{"Prefer": "wait=10"}}
	tests := []struct {
		name    string
		req     request
		decider func(schemas.Command) schemas.CommandResult
		timeOut bool
		status  int
		problem string // the problem type, for a rejection
	}{
		{"create accepted", create, accept(1), false, http.StatusCreated, ""},
		{"update accepted", update, accept(4), false, http.StatusOK, ""},
		{"unknown product", update, reject(schemas.RejectNotFound, "product does not exist", 0), false, http.StatusNotFound, problemNotFound},
		{"create taken", create, reject(schemas.RejectConflict, "product already exists", 2), false, http.StatusConflict, problemConflict},
		{"discontinued", update, reject(schemas.RejectConflict, "product is discontinued", 5), false, http.StatusConflict, problemConflict},
		{"invalid by the decider", update, reject(schemas.RejectInvalid, "invalid command: quantity: must be 0 or more", 1), false, http.StatusUnprocessableEntity, problemInvalid},
		{"unknown rejection code", update, reject("frozen", "product is frozen", 1), false, http.StatusConflict, problemRejected},
		{"no outcome in time", update, nil, true, http.StatusAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider, bus.timeOut = tt.decider, tt.timeOut
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), tt.req)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Preference-Applied"); got != "wait=10" {
				t.Errorf("Preference-Applied = %q, want wait=10", got)
			}
			cmd := bus.commands()[0]
			switch {
			case tt.status == http.StatusAccepted:
				got := decodeAs[commandStatus](t, w)
				if got.Status != "pending" || w.Header().Get("Location") != "/v1/commands/"+cmd.ID {
					t.Errorf("answer %+v, Location %q: want pending at the command", got, w.Header().Get("Location"))
				}
			case tt.problem == "":
				got := decodeAs[commandStatus](t, w)
				want := commandStatus{CommandID: cmd.ID, ProductID: cmd.ProductID, Status: "accepted", Version: tt.decider(cmd).Version}
				if got != want {
					t.Errorf("answer = %+v, want %+v", got, want)
				}
				if tt.status == http.StatusCreated && w.Header().Get("Location") != "/v1/products/"+cmd.ProductID {
					t.Errorf("Location = %q, want the product", w.Header().Get("Location"))
				}
			default:
				p := wantProblem(t, w, tt.status)
				res := tt.decider(cmd)
				if p.Type != tt.problem || p.Detail != res.Reason || p.CommandID != cmd.ID || p.ProductID != cmd.ProductID || p.Version != res.Version {
					t.Errorf("problem = %+v, want type %s, the reason, the IDs and version %d", p, tt.problem, res.Version)
				}
			}
		})
	}
}

func TestPreferWaitIsCapped(t *testing.T) {
	for _, prefer := range []string{"wait=31", "wait=99999999999999999999999", "WAIT = 600; x=y, wait=1", `wait="45"`} {
		t.Run(prefer, func(t *testing.T) {
			bus := newFakeBus()
			bus.timeOut = true
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), request{method: "DELETE", path: "/v1/products/" + productID, header: map[string]string{"Prefer": prefer}})
			if w.Code != http.StatusAccepted || w.Header().Get("Preference-Applied") != "wait=30" {
				t.Fatalf("status %d, Preference-Applied %q: want 202, wait=30", w.Code, w.Header().Get("Preference-Applied"))
			}
			if d := bus.waitDeadlines[0]; d > 30*time.Second || d < 29*time.Second {
				t.Errorf("waited with %v left, want 30s", d)
			}
		})
	}
}

func TestPreferWaitZeroDoesNotWait(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "DELETE", path: "/v1/products/" + productID, header: map[string]string{"Prefer": "wait=0"}})
	if w.Code != http.StatusAccepted || w.Header().Get("Preference-Applied") != "" || len(bus.waitDeadlines) != 0 {
		t.Errorf("status %d, Preference-Applied %q, %d waits: want 202 without waiting", w.Code, w.Header().Get("Preference-Applied"), len(bus.waitDeadlines))
	}
}

// TestPreferWaitAnswersWhenDecided lets the outcome arrive while the
// request waits.
func TestPreferWaitAnswersWhenDecided(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		done <- serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/reviews",
			body: `{"rating":4,"userId":"u"}`, header: map[string]string{"Prefer": "wait=30"}})
	}()
	id := <-bus.waiting
	bus.decide(accept(9)(bus.commands()[0]))
	w := <-done
	if got := decodeAs[commandStatus](t, w); w.Code != http.StatusOK || got.CommandID != id || got.Version != 9 {
		t.Errorf("status %d, answer %+v: want 200, version 9 of %s", w.Code, got, id)
	}
}

func TestIdempotencyKey(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	create := request{method: "POST", path: "/v1/products", body: createBody, header: map[string]string{"Idempotency-Key": "order-77"}}

	first := serve(t, s.Handler(), create)
	second := serve(t, s.Handler(), create) // the first is still pending
	if first.Code != http.StatusAccepted || second.Code != http.StatusAccepted {
		t.Fatalf("statuses %d, %d: want 202 twice", first.Code, second.Code)
	}
	a, b := decodeAs[commandStatus](t, first), decodeAs[commandStatus](t, second)
	if a != b {
		t.Errorf("answers differ: %+v and %+v", a, b)
	}
	if want := commandbus.ProductID("order-77"); a.ProductID != want {
		t.Errorf("productId = %s, want commandbus.ProductID of the key, %s", a.ProductID, want)
	}
	if n := len(bus.commands()); n != 1 {
		t.Errorf("bus got %d commands, want 1: a pending retry is not published again", n)
	}

	bus.decide(accept(1)(bus.commands()[0]))
	third := serve(t, s.Handler(), create)
	if third.Code != http.StatusCreated {
		t.Fatalf("status after the outcome = %d, want the first outcome, 201; body %s", third.Code, third.Body)
	}
	if got := decodeAs[commandStatus](t, third); got.CommandID != a.CommandID || got.ProductID != a.ProductID || got.Status != "accepted" {
		t.Errorf("answer = %+v, want the first command accepted", got)
	}
	if n := len(bus.commands()); n != 1 {
		t.Errorf("bus got %d commands, want 1", n)
	}

	// The same key on another request is a reuse: 422, nothing published.
	other := serve(t, s.Handler(), request{method: "DELETE", path: "/v1/products/" + productID, header: map[string]string{"Idempotency-Key": "order-77"}})
	if p := wantProblem(t, other, http.StatusUnprocessableEntity); !strings.HasSuffix(p.Type, "/idempotency-key-reused") {
		t.Errorf("problem type %q, want one ending /idempotency-key-reused", p.Type)
	}
	if n := len(bus.commands()); n != 1 {
		t.Errorf("bus got %d commands, want 1", n)
	}
}

func TestIdempotencyKeyRejectedReplay(t *testing.T) {
	bus := newFakeBus()
	bus.decider = reject(schemas.RejectNotFound, "product does not exist", 0)
	s := testServer(t, Deps{Commands: bus})
	req := request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":1}`, header: map[string]string{"Idempotency-Key": "k"}}
	first := serve(t, s.Handler(), req)
	second := serve(t, s.Handler(), req)
	if first.Code != http.StatusAccepted {
		t.Errorf("first status = %d, want 202", first.Code)
	}
	wantProblem(t, second, http.StatusNotFound)
	if n := len(bus.commands()); n != 1 {
		t.Errorf("bus got %d commands, want 1", n)
	}
}

func TestSendFails(t *testing.T) {
	bus := newFakeBus()
	bus.sendErr = errors.New("kafka: no brokers")
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "DELETE", path: "/v1/products/" + productID})
	wantProblem(t, w, http.StatusServiceUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

func TestNoCommandBus(t *testing.T) {
	s := testServer(t, Deps{})
	for _, rq := range []request{
		{method: "POST", path: "/v1/products", body: createBody},
		{method: "GET", path: "/v1/commands/" + productID},
	} {
		wantProblem(t, serve(t, s.Handler(), rq), http.StatusServiceUnavailable)
	}
}

func TestGetCommand(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	send := func(path string) schemas.Command {
		t.Helper()
		w := serve(t, s.Handler(), request{method: "PUT", path: path, body: `{"quantity":1}`})
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d", w.Code)
		}
		cmds := bus.commands()
		return cmds[len(cmds)-1]
	}
	pending := send("/v1/products/" + productID + "/stock")
	accepted := send("/v1/products/" + productID + "/stock")
	bus.decide(accept(3)(accepted))
	rejected := send("/v1/products/" + otherID + "/stock")
	bus.decide(reject(schemas.RejectConflict, "product is discontinued", 7)(rejected))

	tests := []struct {
		name string
		id   string
		want commandStatus
	}{
		{"pending", pending.ID, commandStatus{CommandID: pending.ID, ProductID: productID, Status: "pending"}},
		{"accepted", accepted.ID, commandStatus{CommandID: accepted.ID, ProductID: productID, Status: "accepted", Version: 3}},
		{"rejected", rejected.ID, commandStatus{CommandID: rejected.ID, ProductID: otherID, Status: "rejected", Version: 7,
			Code: schemas.RejectConflict, Reason: "product is discontinued"}},
		{"upper case", strings.ToUpper(accepted.ID), commandStatus{CommandID: accepted.ID, ProductID: productID, Status: "accepted", Version: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + tt.id})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}
			if got := decodeAs[commandStatus](t, w); got != tt.want {
				t.Errorf("answer = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + otherID}), http.StatusNotFound)
	})
	t.Run("malformed", func(t *testing.T) {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/c-1"}), http.StatusBadRequest, "commandId")
	})
	t.Run("bad Prefer", func(t *testing.T) {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + pending.ID, header: map[string]string{"Prefer": "wait=soon"}}),
			http.StatusBadRequest, "Prefer")
	})
	t.Run("wait for a pending one", func(t *testing.T) {
		done := make(chan *httptest.ResponseRecorder)
		go func() {
			done <- serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + pending.ID, header: map[string]string{"Prefer": "wait=20"}})
		}()
		<-bus.waiting
		bus.decide(accept(4)(pending))
		w := <-done
		want := commandStatus{CommandID: pending.ID, ProductID: productID, Status: "accepted", Version: 4}
		if got := decodeAs[commandStatus](t, w); got != want || w.Header().Get("Preference-Applied") != "wait=20" {
			t.Errorf("answer = %+v, Preference-Applied %q; want %+v, wait=20", got, w.Header().Get("Preference-Applied"), want)
		}
	})
}

func TestIfMatchOnCreate(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products", body: createBody, header: map[string]string{"If-Match": `"0"`}})
	if w.Code != http.StatusAccepted {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if v := bus.commands()[0].ExpectedVersion; v == nil || *v != 0 {
		t.Errorf("expectedVersion = %v, want 0", v)
	}
}

func TestCatalogueCurrency(t *testing.T) {
	tests := []struct {
		name   string
		price  string
		want   int64    // minor units, when accepted
		fields []string // the invalid fields, when refused
	}{
		{"whole yen", `{"amount":"1500","currency":"JPY"}`, 1500, nil},
		{"decimals of zero", `{"amount":"1500.00","currency":"JPY"}`, 0, []string{"price.amount"}},
		{"a fraction of a yen", `{"amount":"19.5","currency":"JPY"}`, 0, []string{"price.amount"}},
		{"euros in a yen catalogue", `{"amount":"19.50","currency":"EUR"}`, 0, []string{"price.currency"}},
		{"not a currency", `{"amount":"19","currency":"yen"}`, 0, []string{"price.currency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus}, func(c *Config) { c.Currency = "JPY" })
			w := serve(t, s.Handler(), request{method: "PUT", path: "/v1/products/" + productID + "/price", body: `{"price":` + tt.price + `}`})
			if tt.fields != nil {
				wantProblem(t, w, http.StatusUnprocessableEntity, tt.fields...)
				if len(bus.commands()) != 0 {
					t.Error("bus got a command")
				}
				return
			}
			if w.Code != http.StatusAccepted {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if got := bus.commands()[0].Data.(*schemas.ChangeProductPrice).Price; got != (schemas.Money{Amount: tt.want, Currency: "JPY"}) {
				t.Errorf("price = %v, want %d JPY", got, tt.want)
			}
		})
	}
}

func TestIntegerOutOfRangeSaysSo(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"quantity":99999999999999999999}`, "must be an integer from -9223372036854775808 to 9223372036854775807, not the number 99999999999999999999"},
		{`{"quantity":1.5}`, "must be an integer, not the number 1.5"},
	}
	for _, tt := range tests {
		s := testServer(t, Deps{Commands: newFakeBus()})
		w := serve(t, s.Handler(), request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: tt.body})
		p := wantProblem(t, w, http.StatusBadRequest, "quantity")
		if got := p.Errors[0].Message; got != tt.want {
			t.Errorf("%s: message %q, want %q", tt.body, got, tt.want)
		}
	}
}

// Prefer: wait=N bounds the whole answer (RFC 7240), the write to Kafka
// included: the wait for the outcome gets what is left of N after the
// write, not N again (helper 91: a write of 1.5 s and wait=1 answered
// after 2.5 s).
func TestWaitCountsFromTheRequest(t *testing.T) {
	bus := newFakeBus()
	bus.gate = make(chan error)
	s := testServer(t, Deps{Commands: bus})
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		done <- serve(t, s.Handler(), request{method: "POST", path: "/v1/products", body: createBody, header: map[string]string{"Prefer": "wait=1"}})
	}()
	<-bus.sending
	const held = 300 * time.Millisecond
	time.Sleep(held) // the write takes this long
	bus.gate <- nil
	if w := <-done; w.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202 when the wait runs out", w.Code)
	}
	if len(bus.waitDeadlines) != 1 || bus.waitDeadlines[0] > time.Second-held {
		t.Fatalf("the wait for the outcome had %v left; want at most %v (wait=1 less the write's %v)", bus.waitDeadlines, time.Second-held, held)
	}
}
