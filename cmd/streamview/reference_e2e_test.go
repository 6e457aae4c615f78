package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
)

func TestServeReferenceData(t *testing.T) {
	base, _ := startServeBrokers(t)
	referenceEndToEnd(t, base)
}

func TestDevReferenceDataAndRebuild(t *testing.T) {
	base, _, _ := startDev(t, t.TempDir())
	cat, products := referenceEndToEnd(t, base)
	// A rebuild of the view projection rebuilds the reference records
	// with the views: the new generation shows the new name too.
	rebuildEndToEnd(t, base)
	viewsShow(t, base, products, "Livres "+cat)
}

// referenceEndToEnd names a category, creates products that carry another
// name for it in their own commands, renames the category, and waits for
// every view to show the new name; it returns the category ID and the
// products.
func referenceEndToEnd(t *testing.T, base string) (string, []string) {
	t.Helper()
	cat := "books-" + strings.ReplaceAll(commandbus.NewID()[:8], "-", "")
	brand := "acme-" + strings.ReplaceAll(commandbus.NewID()[:8], "-", "")
	a := call(t, "PUT", base+"/v1/categories/"+cat, `{"name":"Books `+cat+`"}`, "Prefer", "wait=20")
	if a.status != 201 || a.body["id"] != cat || a.body["version"] != float64(1) || a.header.Get("Location") != "/v1/categories/"+cat {
		t.Fatalf("create the category: %d %v %v", a.status, a.body, a.header)
	}
	if a := call(t, "PUT", base+"/v1/categories/"+cat, `{"name":"Books `+cat+`"}`, "Prefer", "wait=20", "If-Match", `"2"`); a.status != 409 {
		t.Fatalf("stale If-Match: %d %v, want 409", a.status, a.body)
	}
	if a := call(t, "PUT", base+"/v1/categories/"+cat, `{"name":""}`); a.status != 422 {
		t.Fatalf("empty name: %d %v, want 422", a.status, a.body)
	}
	if a := call(t, "PUT", base+"/v1/categories/a%20b", `{"name":"x"}`); a.status != 400 {
		t.Fatalf("bad ID: %d %v, want 400", a.status, a.body)
	}

	var products []string
	for i := range 3 {
		a := call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":"Book %d","description":"d","price":{"amount":"10.00","currency":"EUR"},
			"categoryId":%q,"categoryName":"An old name","brandId":%q,"brandName":"Brand of the product","stock":1}`, i, cat, brand), "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create product %d: %d %v", i, a.status, a.body)
		}
		products = append(products, a.body["productId"].(string))
	}
	// The category's name wins over the products' own; the brand has none yet.
	viewsShow(t, base, products, "Books "+cat)
	if v := call(t, "GET", base+"/v1/products/"+products[0], ""); v.body["brandName"] != "Brand of the product" {
		t.Errorf("brand never named: %v, want the product's own brand name", v.body["brandName"])
	}

	a = call(t, "PUT", base+"/v1/categories/"+cat, `{"name":"Livres `+cat+`"}`, "Prefer", "wait=20", "If-Match", `"1"`)
	if a.status != 200 || a.body["version"] != float64(2) {
		t.Fatalf("rename: %d %v", a.status, a.body)
	}
	viewsShow(t, base, products, "Livres "+cat)
	testenv.Eventually(t, 60*time.Second, func() error {
		g := call(t, "GET", base+"/v1/categories/"+cat, "")
		if g.status != 200 || g.body["name"] != "Livres "+cat || g.body["version"] != float64(2) || g.body["id"] != cat {
			return fmt.Errorf("GET the category: %d %v", g.status, g.body)
		}
		return nil
	})
	if g := call(t, "GET", base+"/v1/brands/"+brand, ""); g.status != 404 {
		t.Errorf("GET a brand not named yet: %d %v, want 404", g.status, g.body)
	}
	// A brand named after its products were created.
	if a := call(t, "PUT", base+"/v1/brands/"+brand, `{"name":"ACME `+brand+`"}`, "Prefer", "wait=20"); a.status != 201 {
		t.Fatalf("name the brand: %d %v", a.status, a.body)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		g := call(t, "GET", base+"/v1/brands/"+brand, "")
		v := call(t, "GET", base+"/v1/products/"+products[0], "")
		if g.status != 200 || g.body["name"] != "ACME "+brand || v.body["brandName"] != "ACME "+brand {
			return fmt.Errorf("GET the brand: %d %v; the view's brand name %v", g.status, g.body, v.body["brandName"])
		}
		return nil
	})
	// A past version shows today's name too.
	if o := call(t, "GET", base+"/v1/products/"+products[0]+"?asOfVersion=1", ""); o.status != 200 || o.body["categoryName"] != "Livres "+cat {
		t.Errorf("asOfVersion=1: %d %v, want the category's current name", o.status, o.body)
	}
	// A product created later with the old name shows the new one.
	a = call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":"Late book","description":"d","price":{"amount":"10.00","currency":"EUR"},
		"categoryId":%q,"categoryName":"Books %s","brandId":%q,"brandName":"B","stock":1}`, cat, cat, brand), "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create a later product: %d %v", a.status, a.body)
	}
	products = append(products, a.body["productId"].(string))
	viewsShow(t, base, products, "Livres "+cat)
	return cat, products
}

// viewsShow waits until every product's view shows category name want.
func viewsShow(t *testing.T, base string, products []string, want string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		for _, id := range products {
			v := call(t, "GET", base+"/v1/products/"+id, "")
			if v.status != 200 || v.body["categoryName"] != want {
				return fmt.Errorf("product %s: %d categoryName %v, want %q", id, v.status, v.body["categoryName"], want)
			}
		}
		return nil
	})
}
