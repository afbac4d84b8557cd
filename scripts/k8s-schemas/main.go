// k8s-schemas writes one JSON schema per Kubernetes kind, named as kubeconform looks them up
// ({{ .ResourceKind }}{{ .KindSuffix }}.json, e.g. deployment-apps-v1.json, scaledobject-keda-v1alpha1.json),
// from Kubernetes' OpenAPI v2 spec (api/openapi-spec/swagger.json of k8s.io/kubernetes) and from CRD files
// (their openAPIV3Schema). It does what kubeconform's openapi2jsonschema.py does, without Python and PyYAML:
//   - int-or-string fields (format int-or-string, x-kubernetes-int-or-string) accept a string or an integer,
//     and resource.Quantity a string or a number, as the API server does;
//   - strict: every object that lists its properties gets additionalProperties: false unless it says
//     x-kubernetes-preserve-unknown-fields, so a misspelt field fails instead of being silently dropped by
//     the API server;
//   - nullable: true becomes a null-able type.
//
// Usage: go run . -out DIR -swagger swagger.json crd.yaml...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type gvk struct{ Group, Version, Kind string }

// fileName mirrors kubeconform's schema lookup: the kind in lower case, then "-" and the first label of the
// API group (none for the core group), then "-" and the version.
func fileName(g gvk) string {
	suffix := ""
	if g.Group != "" {
		suffix = "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return strings.ToLower(g.Kind) + suffix + "-" + strings.ToLower(g.Version) + ".json"
}

func transform(node any) any {
	switch n := node.(type) {
	case []any:
		for i, v := range n {
			n[i] = transform(v)
		}
		return n
	case map[string]any:
		for k, v := range n {
			// properties and definitions hold names, not schemas with keywords: recurse into their values.
			n[k] = transform(v)
		}
		if n["format"] == "int-or-string" || n["x-kubernetes-int-or-string"] == true {
			delete(n, "type")
			delete(n, "format")
			n["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if n["nullable"] == true {
			if t, ok := n["type"].(string); ok {
				n["type"] = []any{t, "null"}
			}
		}
		if _, has := n["properties"].(map[string]any); has {
			if _, set := n["additionalProperties"]; !set && n["x-kubernetes-preserve-unknown-fields"] != true {
				n["additionalProperties"] = false
			}
		}
		return n
	}
	return node
}

func write(dir string, g gvk, schema map[string]any) {
	schema["$schema"] = "http://json-schema.org/draft-07/schema#"
	data, err := json.Marshal(schema)
	check(err)
	check(os.WriteFile(filepath.Join(dir, fileName(g)), data, 0o644))
}

// refs collects the definitions a schema reaches through "#/definitions/..." references.
func refs(node any, defs map[string]any, seen map[string]bool) {
	switch n := node.(type) {
	case []any:
		for _, v := range n {
			refs(v, defs, seen)
		}
	case map[string]any:
		if r, ok := n["$ref"].(string); ok {
			name := strings.TrimPrefix(r, "#/definitions/")
			if !seen[name] {
				seen[name] = true
				refs(defs[name], defs, seen)
			}
		}
		for _, v := range n {
			refs(v, defs, seen)
		}
	}
}

func swagger(dir, file string) int {
	raw, err := os.ReadFile(file)
	check(err)
	var spec struct {
		Definitions map[string]any `json:"definitions"`
	}
	check(json.Unmarshal(raw, &spec))
	// The API server takes a Quantity as a string ("500m") or a number (2); the spec only says string.
	spec.Definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = map[string]any{
		"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}},
	}
	for name, def := range spec.Definitions {
		spec.Definitions[name] = transform(def)
	}
	names := make([]string, 0, len(spec.Definitions))
	for name := range spec.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	count := 0
	for _, name := range names {
		def, _ := spec.Definitions[name].(map[string]any)
		kinds, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, k := range kinds {
			m := k.(map[string]any)
			g := gvk{m["group"].(string), m["version"].(string), m["kind"].(string)}
			seen := map[string]bool{}
			refs(def, spec.Definitions, seen)
			closure := map[string]any{}
			for n := range seen {
				closure[n] = spec.Definitions[n]
			}
			schema := map[string]any{"definitions": closure}
			for key, v := range def {
				schema[key] = v
			}
			write(dir, g, schema)
			count++
		}
	}
	return count
}

func crd(dir, file string) int {
	raw, err := os.ReadFile(file)
	check(err)
	js, err := yaml.YAMLToJSON(raw)
	check(err)
	var c struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	check(json.Unmarshal(js, &c))
	if c.Kind != "CustomResourceDefinition" {
		check(fmt.Errorf("%s: not a CustomResourceDefinition (kind %q)", file, c.Kind))
	}
	for _, v := range c.Spec.Versions {
		if v.Schema.OpenAPIV3Schema == nil {
			check(fmt.Errorf("%s: version %s has no openAPIV3Schema", file, v.Name))
		}
		write(dir, gvk{c.Spec.Group, v.Name, c.Spec.Names.Kind}, transform(v.Schema.OpenAPIV3Schema).(map[string]any))
	}
	return len(c.Spec.Versions)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-schemas:", err)
		os.Exit(1)
	}
}

func main() {
	out := flag.String("out", "", "folder to write the schemas to")
	sw := flag.String("swagger", "", "Kubernetes OpenAPI v2 spec (swagger.json)")
	flag.Parse()
	if *out == "" || *sw == "" {
		check(fmt.Errorf("usage: k8s-schemas -out DIR -swagger swagger.json [crd.yaml...]"))
	}
	check(os.MkdirAll(*out, 0o755))
	n := swagger(*out, *sw)
	for _, f := range flag.Args() {
		n += crd(*out, f)
	}
	fmt.Printf("k8s-schemas: %d schemas in %s\n", n, *out)
}
