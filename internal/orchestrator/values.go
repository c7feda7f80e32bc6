package orchestrator

import "github.com/ambari-go/ambari-agent/internal/pyvalue"

// Commands are JSON objects decoded into map[string]any with UseNumber, as
// the caches do; internal/pyvalue gives their values Python's meaning.

// copyMap is a private copy of an object (internal/pyvalue.DeepCopy).
func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return pyvalue.DeepCopy(m).(map[string]any)
}

// asMap returns v as an object, nil when it is not one.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// child returns m[key] as an object, nil when absent or not an object.
func child(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	return asMap(m[key])
}

// stringOf returns v when it is a string.
func stringOf(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}
