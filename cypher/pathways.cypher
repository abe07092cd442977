// name: pathways
// description: The k strongest live paths from a neuron (or a whole layer) to a target layer.
// param run_id: string -- the run
// param uid: string = null -- source neuron "<run_id>/<layer>/<idx>" (give uid or source_layer)
// param source_layer: string = null -- every neuron of this layer is a source
// param target_layer: string -- paths end at any neuron of this layer
// param condition: string = clean -- condition name
// param k: int(1..) = 10 -- how many paths
// param score: string(sum_z|prod_value) = sum_z -- sum of edge z, or product of edge values
// param min_z: float = null -- prune: follow only edges with z >= min_z
// param max_paths: int(1..) = 50000 -- enumerate at most this many paths, then rank them
// one_of: uid, source_layer
// timeout: 120
// needs_all_edges: run_id:condition
// returns: rank, source_uid, target_uid, hops, score, sum_z, prod_value, weakest_z,
//   path (neuron uids), z (per edge), value (per edge), candidates (paths enumerated),
//   exhaustive (false when max_paths was reached: the ranking is then over a subset).
// note: a path follows live FC edges (consecutive layers or declared feeders) and never goes
//   past the target layer, so in a purely consecutive DAG every path has the same length.
//   Enumeration is exponential in dense graphs: raise min_z to prune, and use
//   fcgraph.graph.queries.strongest_paths (exact layer-by-layer dynamic programme) for large
//   graphs. Ties are broken by the path's uid list (ascending).
// table: rank, hops, score, weakest_z, path, exhaustive
MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (tl:Layer {run_id: $run_id, name: $target_layer})
WITH c.gen AS gen, tl.name AS target, tl.order AS target_order
CALL (gen, target, target_order) {
  CALL () {
    MATCH (s:Neuron {uid: $uid}) WHERE s.run_id = $run_id RETURN s
    UNION
    MATCH (s:Neuron {run_id: $run_id, layer: $source_layer}) RETURN s
  }
  MATCH p = (s) ((a:Neuron)-[r:FC]->(b:Neuron)
                 WHERE r.condition = $condition AND r.gen = gen
                   AND b.layer_order <= target_order
                   AND ($min_z IS NULL OR r.z >= $min_z))+ (t:Neuron)
  WHERE t.run_id = $run_id AND t.layer = target
  RETURN p
  LIMIT $max_paths
}
WITH p, [r IN relationships(p) | r.z] AS zs, [r IN relationships(p) | r.value] AS vs,
     [n IN nodes(p) | n.uid] AS path
WITH p, zs, vs, path, reduce(acc = 0.0, z IN zs | acc + z) AS sum_z,
     reduce(acc = 1.0, v IN vs | acc * v) AS prod_value
WITH p, zs, vs, path, sum_z, prod_value,
     CASE $score WHEN 'prod_value' THEN prod_value ELSE sum_z END AS score
ORDER BY score DESC, path
WITH collect({path: path, zs: zs, vs: vs, score: score, sum_z: sum_z,
              prod_value: prod_value}) AS found
UNWIND range(0, CASE WHEN size(found) < $k THEN size(found) ELSE $k END - 1) AS i
WITH found[i] AS f, i, size(found) AS candidates
RETURN i + 1 AS rank, f.path[0] AS source_uid, f.path[-1] AS target_uid,
       size(f.zs) AS hops, f.score AS score, f.sum_z AS sum_z, f.prod_value AS prod_value,
       reduce(m = f.zs[0], z IN f.zs | CASE WHEN z < m THEN z ELSE m END) AS weakest_z,
       f.path AS path, f.zs AS z, f.vs AS value, candidates,
       candidates < $max_paths AS exhaustive
ORDER BY rank
