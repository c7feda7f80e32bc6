package cache

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// The merge functions take the current content (never modified) and an
// event's clusters (owned by the merge, freshly decoded) and return the new
// content. They copy only what they change: untouched clusters, hosts,
// components and definitions stay shared with the previous snapshot.

type mergeFunc func(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error)

// topologyUpdate: unknown clusters are inserted whole; hosts are upserted by
// hostId (shallow key overwrite); components are upserted by (serviceName,
// componentName) with hostIds unioned and every other key replaced shallowly.
// [quirk kept] Keys of the cluster object other than hosts and components are
// ignored for a known cluster, as in the Python agent.
func topologyUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	return updateClusters(cur, ev, func(id string, c, u map[string]any) error {
		if hv, ok := u["hosts"]; ok {
			hosts, err := upsert(c["hosts"], hv, "hosts", hostKey, func(_ string, old, upd map[string]any) (map[string]any, error) {
				m := shallowCopy(old)
				for k, v := range upd {
					m[k] = v
				}
				return m, nil
			})
			if err != nil {
				return invalid("topology UPDATE cluster %s: %v", id, err)
			}
			c["hosts"] = hosts
		}
		if cv, ok := u["components"]; ok {
			comps, err := upsert(c["components"], cv, "components", keyOfComponent, mergeComponent)
			if err != nil {
				return invalid("topology UPDATE cluster %s: %v", id, err)
			}
			c["components"] = comps
		}
		return nil
	})
}

// updateClusters inserts the event's unknown clusters whole and lets update
// change a shallow copy of each known one.
func updateClusters(cur, ev clusterSet, update func(id string, c, u map[string]any) error) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		u := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			next.put(id, u)
			continue
		}
		c := shallowCopy(old)
		if err := update(id, c, u); err != nil {
			return clusterSet{}, err
		}
		next.m[id] = c
	}
	return next, nil
}

// deleteFromClusters logs and skips an unknown cluster, deletes a cluster
// whose object is empty and gives every other one to remove, which returns
// the cluster's new content.
func deleteFromClusters(cur, ev clusterSet, log *logrus.Entry, what string,
	remove func(id string, old, d map[string]any) (map[string]any, error)) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		d := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			log.WithField("cluster", id).Error(what + " DELETE for a cluster not in the cache; skipped")
			continue
		}
		if len(d) == 0 {
			next.remove(id)
			continue
		}
		c, err := remove(id, old, d)
		if err != nil {
			return clusterSet{}, err
		}
		next.m[id] = c
	}
	return next, nil
}

// keyFunc reads the identity of a list element: its key and the element as
// an object, or what is wrong with it.
type keyFunc[K comparable] func(v any) (K, map[string]any, error)

// byID identifies list elements by an id field (hostId, definitionId).
func byID(idField, itemName string) keyFunc[string] {
	return func(v any) (string, map[string]any, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%s is not an object", itemName)
		}
		k, ok := idKey(m[idField])
		if !ok {
			return "", nil, fmt.Errorf("%s without a %s", itemName, idField)
		}
		return k, m, nil
	}
}

var (
	hostKey       = byID("hostId", "host entry")
	definitionKey = byID("definitionId", "alert definition")
)

// twoLists reads a key's cached list and the event's list.
func twoLists(cached, event any, name string) (have, change []any, err error) {
	change, ok := listOf(event)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a list", name)
	}
	have, ok = listOf(cached)
	if !ok {
		return nil, nil, fmt.Errorf("cached %s is not a list", name)
	}
	return have, change, nil
}

// upsert merges a list of objects: each update is combined with the element
// of the same key, or appended. The existing list is not modified.
func upsert[K comparable](existing, updates any, listName string, key keyFunc[K],
	combine func(k K, old, upd map[string]any) (map[string]any, error)) ([]any, error) {
	list, ups, err := twoLists(existing, updates, listName)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(list), len(list)+len(ups))
	copy(out, list)
	index := make(map[K]int, len(out))
	for i, e := range out {
		if k, _, err := key(e); err == nil {
			if _, seen := index[k]; !seen {
				index[k] = i
			}
		}
	}
	for _, u := range ups {
		k, um, err := key(u)
		if err != nil {
			return nil, err
		}
		i, found := index[k]
		if !found {
			index[k] = len(out)
			out = append(out, um)
			continue
		}
		m, err := combine(k, out[i].(map[string]any), um)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// indexOf is the position of the first element with key k, -1 if none.
func indexOf[K comparable](list []any, k K, key keyFunc[K]) int {
	for i, e := range list {
		if ek, _, err := key(e); err == nil && ek == k {
			return i
		}
	}
	return -1
}

type componentKey struct{ service, component string }

func keyOfComponent(v any) (componentKey, map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return componentKey{}, nil, fmt.Errorf("component entry is not an object")
	}
	svc, ok1 := m["serviceName"].(string)
	comp, ok2 := m["componentName"].(string)
	if !ok1 || !ok2 {
		return componentKey{}, nil, fmt.Errorf("component entry without serviceName/componentName")
	}
	return componentKey{svc, comp}, m, nil
}

// mergeComponent replaces a known component's keys, hostIds unioned.
func mergeComponent(k componentKey, old, upd map[string]any) (map[string]any, error) {
	m := shallowCopy(old)
	for kk, vv := range upd {
		if kk == "hostIds" {
			u, err := unionIDs(m["hostIds"], vv)
			if err != nil {
				return nil, fmt.Errorf("component %s/%s: %v", k.service, k.component, err)
			}
			vv = u
		}
		m[kk] = vv
	}
	return m, nil
}

// unionIDs returns the existing ids (duplicates dropped) followed by the new
// ones not yet present. Python builds a set, so its order is arbitrary; a
// stable order is as valid and keeps the file diff-friendly.
func unionIDs(existing, add any) ([]any, error) {
	a, b, err := twoLists(existing, add, "hostIds")
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]any, 0, len(a)+len(b))
	for _, l := range [][]any{a, b} {
		for _, v := range l {
			k, ok := idKey(v)
			if !ok {
				return nil, fmt.Errorf("host id %v is not a number", v)
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// topologyDelete: a cluster object {} deletes the cluster; listed hosts are
// removed by hostId (unknown ones logged); listed components lose the listed
// hostIds and are removed when none remain; an unknown component is an error;
// an unknown cluster is logged and skipped.
//
// Deliberate difference: the Python agent filters a stale copy of the host
// and component lists on every removal, so of several hosts (or emptied
// components) in one DELETE only the last one is really removed. Here all of
// them are.
func topologyDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	return deleteFromClusters(cur, ev, log, "topology", func(id string, old, d map[string]any) (map[string]any, error) {
		c := shallowCopy(old)
		if hv, ok := d["hosts"]; ok {
			hosts, err := deleteHosts(c["hosts"], hv, id, log)
			if err != nil {
				return nil, invalid("topology DELETE cluster %s: %v", id, err)
			}
			if hosts != nil {
				c["hosts"] = hosts
			}
		}
		if cv, ok := d["components"]; ok {
			comps, err := deleteComponents(c["components"], cv)
			if err != nil {
				return nil, invalid("topology DELETE cluster %s: %v", id, err)
			}
			c["components"] = comps
		}
		return c, nil
	})
}

// deleteHosts returns nil when the cluster had no hosts list at all (then no
// key is added).
func deleteHosts(existing, dels any, cluster string, log *logrus.Entry) ([]any, error) {
	list, ds, err := twoLists(existing, dels, "hosts")
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(list))
	for _, h := range list {
		if k, _, err := hostKey(h); err == nil {
			present[k] = true
		}
	}
	drop := make(map[string]bool, len(ds))
	for _, h := range ds {
		k, hm, err := hostKey(h)
		if err != nil {
			return nil, err
		}
		if !present[k] {
			log.WithFields(logrus.Fields{"cluster": cluster, "hostId": hm["hostId"]}).
				Error("topology DELETE of a host not in the cache; skipped")
			continue
		}
		drop[k] = true
	}
	if existing == nil {
		return nil, nil
	}
	out := make([]any, 0, len(list))
	for _, h := range list {
		if k, _, err := hostKey(h); err == nil && drop[k] {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

func deleteComponents(existing, dels any) ([]any, error) {
	list, ds, err := twoLists(existing, dels, "components")
	if err != nil {
		return nil, err
	}
	out := make([]any, len(list))
	copy(out, list)
	for _, c := range ds {
		k, cm, err := keyOfComponent(c)
		if err != nil {
			return nil, err
		}
		i := indexOf(out, k, keyOfComponent)
		if i < 0 {
			return nil, fmt.Errorf("cannot delete component %s/%s: not in the cache", k.service, k.component)
		}
		em := out[i].(map[string]any)
		if have, ok := em["hostIds"]; ok {
			remove, ok := cm["hostIds"]
			if !ok {
				return nil, fmt.Errorf("DELETE of component %s/%s without hostIds", k.service, k.component)
			}
			rest, err := subtractIDs(have, remove)
			if err != nil {
				return nil, fmt.Errorf("component %s/%s: %v", k.service, k.component, err)
			}
			if len(rest) > 0 {
				m := shallowCopy(em)
				m["hostIds"] = rest
				out[i] = m
				continue
			}
		}
		out = append(out[:i], out[i+1:]...)
	}
	return out, nil
}

func subtractIDs(have, remove any) ([]any, error) {
	a, b, err := twoLists(have, remove, "hostIds")
	if err != nil {
		return nil, err
	}
	drop := make(map[string]bool, len(b))
	for _, v := range b {
		if k, ok := idKey(v); ok {
			drop[k] = true
		}
	}
	out := make([]any, 0, len(a))
	for _, v := range a {
		if k, ok := idKey(v); ok && drop[k] {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// metadataUpdate deep-merges every cluster as Python's Utils.update_nested
// does: nested objects merge key by key, any other value (arrays included)
// replaces; keys are never removed. The snapshot's maps are not modified.
func metadataUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		next.put(id, pyvalue.MergeNested(next.m[id], ev.m[id]))
	}
	return next, nil
}

// metadataDelete only removes whole clusters; any non-empty cluster object is
// an error ("deleting sub-values is not supported").
//
// Deliberate difference: Python raises KeyError for a cluster it does not
// have; deleting what is already absent is logged and treated as done.
func metadataDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		if len(ev.m[id]) != 0 {
			return clusterSet{}, invalid("metadata DELETE cluster %s: deleting cluster sub-values is not supported", id)
		}
		if _, ok := next.m[id]; !ok {
			log.WithField("cluster", id).Warn("metadata DELETE for a cluster not in the cache; nothing to do")
			continue
		}
		next.remove(id)
	}
	return next, nil
}

// alertDefinitionsUpdate: unknown clusters are inserted whole; definitions are
// replaced by definitionId or appended; every other key of the cluster object
// overwrites the cached one.
//
// Deliberate difference: a cluster object without "alertDefinitions" only
// overwrites the other keys (Python raises KeyError).
func alertDefinitionsUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	return updateClusters(cur, ev, func(id string, c, u map[string]any) error {
		for k, v := range u {
			if k != "alertDefinitions" {
				c[k] = v
			}
		}
		if dv, ok := u["alertDefinitions"]; ok {
			defs, err := upsert(c["alertDefinitions"], dv, "alertDefinitions", definitionKey,
				func(_ string, _, upd map[string]any) (map[string]any, error) { return upd, nil })
			if err != nil {
				return invalid("alert definitions UPDATE cluster %s: %v", id, err)
			}
			c["alertDefinitions"] = defs
		}
		return nil
	})
}

// alertDefinitionsDelete: {} deletes the cluster; otherwise each listed
// definition is removed by definitionId and an unknown id is an error; an
// unknown cluster is logged and skipped.
// [quirk kept] {"alertDefinitions": []} (what the real server sends when a
// cluster goes away) deletes nothing.
// Deliberate difference: a non-empty cluster object without
// "alertDefinitions" deletes nothing (Python raises KeyError).
func alertDefinitionsDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	return deleteFromClusters(cur, ev, log, "alert definitions", func(id string, old, d map[string]any) (map[string]any, error) {
		dv, ok := d["alertDefinitions"]
		if !ok {
			return old, nil
		}
		list, dels, err := twoLists(old["alertDefinitions"], dv, "alertDefinitions")
		if err != nil {
			return nil, invalid("alert definitions DELETE cluster %s: %v", id, err)
		}
		out := make([]any, len(list))
		copy(out, list)
		for _, e := range dels {
			k, em, err := definitionKey(e)
			if err != nil {
				return nil, invalid("alert definitions DELETE cluster %s: %v", id, err)
			}
			i := indexOf(out, k, definitionKey)
			if i < 0 {
				return nil, invalid("alert definitions DELETE cluster %s: cannot delete definition %v: not in the cache", id, em["definitionId"])
			}
			out = append(out[:i], out[i+1:]...)
		}
		c := shallowCopy(old)
		c["alertDefinitions"] = out
		return c, nil
	})
}
