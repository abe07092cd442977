// name: lost_pathways
// description: The strongest two-edge baseline pathways (pre -> mid -> post) a condition breaks.
// param run_id: string -- the run
// param condition: string -- the perturbed condition
// param baseline: string = clean -- the reference condition
// param pre_layer: string = null -- only pathways starting in this layer (default: every layer)
// param min_z: float = null -- prune: only baseline edges with z >= min_z
// param limit: int(1..) = 100 -- at most this many pathways
// timeout: 120
// returns: rank, pre_uid, mid_uid, post_uid, pre_layer, mid_layer, post_layer,
//   score (z_first + z_second), z_first, z_second (baseline z of pre->mid and mid->post),
//   first_kept, second_kept (the neuron pair has a live edge under the condition),
//   broken ('first' | 'second' | 'both'); ordered by score desc, then the three uids.
// note: a pathway is a pair of live baseline edges pre->mid, mid->post through three layers
//   joined by FEEDS (l0 -> l1 -> l2); it is broken when at least one of its two neuron pairs
//   has no live edge under the condition. Pathways grow as in-degree x out-degree per mid
//   neuron: in dense graphs restrict with pre_layer and min_z.
MATCH (bc:Condition {run_id: $run_id, name: $baseline})
MATCH (cc:Condition {run_id: $run_id, name: $condition})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l0:Layer)-[:FEEDS]->(l1:Layer)-[:FEEDS]->(l2:Layer)
WHERE $pre_layer IS NULL OR l0.name = $pre_layer
WITH bc.gen AS bgen, cc.gen AS cgen, l0, l1, l2
CALL (bgen, cgen, l0, l1, l2) {
  MATCH (m:Neuron {run_id: $run_id, layer: l1.name})
  // each neuron pair once: its baseline z and whether the condition keeps it
  CALL (m, bgen, cgen, l0) {
    MATCH (a)-[r:FC]->(m)
    WHERE r.gen IN [bgen, cgen] AND r.condition IN [$baseline, $condition] AND a.layer = l0.name
    WITH a, max(CASE WHEN r.gen = bgen AND r.condition = $baseline THEN r.z END) AS z,
         max(CASE WHEN r.gen = cgen AND r.condition = $condition THEN 1 ELSE 0 END) AS kept
    WHERE z IS NOT NULL AND ($min_z IS NULL OR z >= $min_z)
    RETURN collect({uid: a.uid, z: z, kept: kept = 1}) AS ins
  }
  CALL (m, bgen, cgen, l2) {
    MATCH (m)-[r:FC]->(b)
    WHERE r.gen IN [bgen, cgen] AND r.condition IN [$baseline, $condition] AND b.layer = l2.name
    WITH b, max(CASE WHEN r.gen = bgen AND r.condition = $baseline THEN r.z END) AS z,
         max(CASE WHEN r.gen = cgen AND r.condition = $condition THEN 1 ELSE 0 END) AS kept
    WHERE z IS NOT NULL AND ($min_z IS NULL OR z >= $min_z)
    RETURN collect({uid: b.uid, z: z, kept: kept = 1}) AS outs
  }
  UNWIND ins AS i
  UNWIND outs AS o
  WITH m, i, o
  WHERE NOT (i.kept AND o.kept)
  RETURN i, m.uid AS mid_uid, o
}
WITH i.uid AS pre_uid, mid_uid, o.uid AS post_uid, l0.name AS pre_layer, l1.name AS mid_layer,
     l2.name AS post_layer, i.z + o.z AS score, i.z AS z_first, o.z AS z_second,
     i.kept AS first_kept, o.kept AS second_kept
ORDER BY score DESC, pre_uid, mid_uid, post_uid
LIMIT $limit
WITH collect({pre_uid: pre_uid, mid_uid: mid_uid, post_uid: post_uid, pre_layer: pre_layer,
              mid_layer: mid_layer, post_layer: post_layer, score: score, z_first: z_first,
              z_second: z_second, first_kept: first_kept, second_kept: second_kept}) AS rows
UNWIND range(0, size(rows) - 1) AS i
WITH i, rows[i] AS w
RETURN i + 1 AS rank, w.pre_uid AS pre_uid, w.mid_uid AS mid_uid, w.post_uid AS post_uid,
       w.pre_layer AS pre_layer, w.mid_layer AS mid_layer, w.post_layer AS post_layer,
       w.score AS score, w.z_first AS z_first, w.z_second AS z_second,
       w.first_kept AS first_kept, w.second_kept AS second_kept,
       CASE WHEN w.first_kept THEN 'second' WHEN w.second_kept THEN 'first' ELSE 'both' END
         AS broken
ORDER BY rank
