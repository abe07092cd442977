// name: lost_pathways
// description: The strongest two-edge baseline pathways (pre -> mid -> post) a condition breaks.
// param run_id: string -- the run
// param condition: string -- the perturbed condition
// param baseline: string = clean -- the reference condition
// param pre_layer: string = null -- only pathways starting in this layer (default: every layer)
// param min_z: float = null -- prune: only baseline edges with z >= min_z
// param limit: int(1..) = 100 -- at most this many pathways
// timeout: 120
// needs_all_edges: run_id:baseline
// returns: rank, pre_uid, mid_uid, post_uid, pre_layer, mid_layer, post_layer,
//   score (z_first + z_second), z_first, z_second (baseline z of pre->mid and mid->post),
//   first_state, second_state (each edge's state under the condition: kept | weakened |
//   silenced), first_kept, second_kept (state = kept), broken ('first' | 'second' | 'both');
//   ordered by score desc, then the three uids.
// note: a pathway is a pair of loaded baseline edges pre->mid, mid->post through three layers
//   joined by FEEDS (l0 -> l1 -> l2); it is broken when at least one of its two edges is not
//   kept under the condition. An edge's state comes from the run's files (its weakened_in /
//   silenced_in lists), so it is exact whatever subset of the condition's edges is loaded.
//   Exact top-limit without listing every pathway (in-degree x out-degree per mid neuron):
//   each mid neuron's best broken pathway is found from its strongest edges, only the limit
//   mid neurons with the best ones (ties included) are expanded, and there only the limit
//   strongest broken / kept in-edges and strongest / broken out-edges. Those strongest edges
//   are stored on the neuron (degree and loss lists, from the files) for the run's first
//   condition as baseline (Run.loss_baseline), loaded whole, and a mid layer whose baseline
//   edges all come from l0 and go to l2 (PairStats); otherwise every mid neuron's edges are
//   read once (on a large graph, restrict with pre_layer).
// table: rank, pre_uid, mid_uid, post_uid, score, first_state, second_state, broken
MATCH (bc:Condition {run_id: $run_id, name: $baseline})
MATCH (:Condition {run_id: $run_id, name: $condition})
MATCH (run:Run {run_id: $run_id})-[:HAS_LAYER]->(l0:Layer)-[:FEEDS]->(l1:Layer)-[:FEEDS]->(l2:Layer)
WHERE ($pre_layer IS NULL OR l0.name = $pre_layer)
  AND all(pair IN [[l0, l1], [l1, l2]] WHERE EXISTS {
        MATCH (s:PairStats {run_id: $run_id, condition: $baseline, pre_layer: pair[0].name,
                            post_layer: pair[1].name}) WHERE s.edges > 0 })
WITH bc.gen AS bgen, l0, l1, l2, coalesce(run.degree_conditions, []) AS dc,
     run.loss_baseline = $baseline AND bc['top_k'] IS NULL AND bc['min_z'] IS NULL
       AND NOT EXISTS { MATCH (s:PairStats {run_id: $run_id, condition: $baseline})
                        WHERE s.edges > 0 AND ((s.post_layer = l1.name AND s.pre_layer <> l0.name)
                          OR (s.pre_layer = l1.name AND s.post_layer <> l2.name)) } AS stored
WITH bgen, l0, l1, l2, [i IN range(0, size(dc) - 1) WHERE dc[i] = $baseline][0] AS bi,
     [i IN range(0, size(dc) - 1) WHERE dc[i] = $condition][0] AS ci, stored
CALL (bgen, l0, l1, l2, bi, ci, stored) {
  // phase 1: each mid neuron's best broken pathway score, from its edges' maxima: stored on the
  // neuron (its degree and loss lists) when every in-edge comes from l0 and every out-edge goes
  // to l2, else read from its edges
  MATCH (m:Neuron {run_id: $run_id, layer: l1.name})
  WITH m, bi, ci, stored AND bi IS NOT NULL AND ci IS NOT NULL AS lists
  CALL (m, bgen, l0, lists) {
    UNWIND CASE WHEN lists THEN [] ELSE [m] END AS mid
    MATCH (a)-[r:FC]->(mid)
    WHERE r.gen = bgen AND r.condition = $baseline AND a.layer = l0.name
      AND ($min_z IS NULL OR r.z >= $min_z)
    RETURN max(r.z) AS in_best,
           max(CASE WHEN $condition IN (coalesce(r.silenced_in, []) + coalesce(r.weakened_in, []))
                    THEN r.z END) AS in_broken
  }
  CALL (m, bgen, l2, lists) {
    UNWIND CASE WHEN lists THEN [] ELSE [m] END AS mid
    MATCH (mid)-[r:FC]->(b)
    WHERE r.gen = bgen AND r.condition = $baseline AND b.layer = l2.name
      AND ($min_z IS NULL OR r.z >= $min_z)
    RETURN max(r.z) AS out_best,
           max(CASE WHEN $condition IN (coalesce(r.silenced_in, []) + coalesce(r.weakened_in, []))
                    THEN r.z END) AS out_broken
  }
  WITH m, CASE WHEN lists THEN
         [x IN [CASE WHEN m.in_degree[bi] > 0 THEN m.in_max_z[bi] END, m.in_lost_max_z[ci],
                CASE WHEN m.out_degree[bi] > 0 THEN m.out_max_z[bi] END, m.out_lost_max_z[ci]]
          | CASE WHEN x = x AND ($min_z IS NULL OR x >= $min_z) THEN x END]
       ELSE [in_best, in_broken, out_best, out_broken] END AS v
  WITH m, v[0] AS in_best, v[1] AS in_broken, v[2] AS out_best, v[3] AS out_broken
  WITH m, [s IN [in_broken + out_best, in_best + out_broken] WHERE s IS NOT NULL] AS scores
  WHERE size(scores) > 0
  WITH m, CASE WHEN size(scores) = 1 OR scores[0] >= scores[1] THEN scores[0] ELSE scores[1] END
          AS best
  ORDER BY best DESC
  WITH collect({m: m, best: best}) AS ranked
  WITH ranked, ranked[CASE WHEN size(ranked) < $limit THEN size(ranked) ELSE $limit END - 1].best
       AS floor
  UNWIND [x IN ranked WHERE x.best >= floor] AS x
  RETURN x.m AS m, x.best AS best
}
// the same cut over every layer triple: only these mid neurons can hold the top pathways
WITH bgen, l0, l1, l2, m, best ORDER BY best DESC
WITH bgen, collect({m: m, best: best, l0: l0, l1: l1, l2: l2}) AS ranked
WITH bgen, ranked,
     ranked[CASE WHEN size(ranked) < $limit THEN size(ranked) ELSE $limit END - 1].best AS floor
UNWIND [x IN ranked WHERE x.best >= floor] AS x
WITH bgen, x.m AS m, x.l0 AS l0, x.l1 AS l1, x.l2 AS l2
CALL (bgen, m, l0, l2) {
  // phase 2: the mid neuron's strongest edges of each kind, then their broken pathways
  CALL (m, bgen, l0) {
    MATCH (a)-[r:FC]->(m)
    WHERE r.gen = bgen AND r.condition = $baseline AND a.layer = l0.name
      AND ($min_z IS NULL OR r.z >= $min_z)
    WITH a.uid AS uid, r.z AS z,
         CASE WHEN $condition IN coalesce(r.silenced_in, []) THEN 'silenced'
              WHEN $condition IN coalesce(r.weakened_in, []) THEN 'weakened'
              ELSE 'kept' END AS state
    ORDER BY z DESC, uid
    WITH collect({uid: uid, z: z, state: state}) AS ins
    RETURN [i IN ins WHERE i.state <> 'kept'][..$limit] AS in_broken,
           [i IN ins WHERE i.state = 'kept'][..$limit] AS in_kept
  }
  CALL (m, bgen, l2) {
    MATCH (m)-[r:FC]->(b)
    WHERE r.gen = bgen AND r.condition = $baseline AND b.layer = l2.name
      AND ($min_z IS NULL OR r.z >= $min_z)
    WITH b.uid AS uid, r.z AS z,
         CASE WHEN $condition IN coalesce(r.silenced_in, []) THEN 'silenced'
              WHEN $condition IN coalesce(r.weakened_in, []) THEN 'weakened'
              ELSE 'kept' END AS state
    ORDER BY z DESC, uid
    WITH collect({uid: uid, z: z, state: state}) AS outs
    RETURN outs[..$limit] AS out_any, [o IN outs WHERE o.state <> 'kept'][..$limit] AS out_broken
  }
  UNWIND [[in_broken, out_any], [in_kept, out_broken]] AS part
  UNWIND part[0] AS i
  UNWIND part[1] AS o
  RETURN i, m.uid AS mid_uid, o
}
WITH i.uid AS pre_uid, mid_uid, o.uid AS post_uid, l0.name AS pre_layer, l1.name AS mid_layer,
     l2.name AS post_layer, i.z + o.z AS score, i.z AS z_first, o.z AS z_second,
     i.state AS first_state, o.state AS second_state
ORDER BY score DESC, pre_uid, mid_uid, post_uid
LIMIT $limit
WITH collect({pre_uid: pre_uid, mid_uid: mid_uid, post_uid: post_uid, pre_layer: pre_layer,
              mid_layer: mid_layer, post_layer: post_layer, score: score, z_first: z_first,
              z_second: z_second, first_state: first_state, second_state: second_state}) AS rows
UNWIND range(0, size(rows) - 1) AS i
WITH i, rows[i] AS w
RETURN i + 1 AS rank, w.pre_uid AS pre_uid, w.mid_uid AS mid_uid, w.post_uid AS post_uid,
       w.pre_layer AS pre_layer, w.mid_layer AS mid_layer, w.post_layer AS post_layer,
       w.score AS score, w.z_first AS z_first, w.z_second AS z_second,
       w.first_state AS first_state, w.second_state AS second_state,
       w.first_state = 'kept' AS first_kept, w.second_state = 'kept' AS second_kept,
       CASE WHEN w.first_state = 'kept' THEN 'second' WHEN w.second_state = 'kept' THEN 'first'
            ELSE 'both' END AS broken
ORDER BY rank
