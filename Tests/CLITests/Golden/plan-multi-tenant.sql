-- breakout plan: Plan: 9 to add, 0 to change, 0 to destroy.
-- warning [jobs_overlap] organizations/ansd.yaml:29:11: jobs "breakout-quotidien" and "breakout-rgph" both break out RGPH into connection "postgres-ansd": when their runs overlap, the second waits up to 60 s for the first, then is recorded skipped as destination busy (docs/runner.md); give them schedules that do not overlap, or one job
-- warning [dictionary_missing] job ansd/breakout-quotidien: dictionary RGPH: CSWeb has no dictionary RGPH; it has: CENSUS; its next run would fail
-- warning [dictionary_missing] job ansd/breakout-quotidien: dictionary SURVEY2024: CSWeb has no dictionary SURVEY2024; it has: CENSUS; its next run would fail
-- warning [dictionary_missing] job ansd/breakout-rgph: dictionary RGPH: CSWeb has no dictionary RGPH; it has: CENSUS; its next run would fail
-- warning [dictionary_missing] job insd/breakout-weekdays: dictionary EHCVM: CSWeb has no dictionary EHCVM; it has: CENSUS; its next run would fail
-- Destination schema: no job alters existing tables.

-- ===== job ansd/breakout-quotidien · RGPH → postgresql ansd/postgres-ansd
-- cannot plan this job: CSWeb has no dictionary RGPH; it has: CENSUS

-- ===== job ansd/breakout-quotidien · SURVEY2024 → postgresql ansd/postgres-ansd
-- cannot plan this job: CSWeb has no dictionary SURVEY2024; it has: CENSUS

-- ===== job ansd/breakout-rgph · RGPH → postgresql ansd/postgres-ansd
-- cannot plan this job: CSWeb has no dictionary RGPH; it has: CENSUS

-- ===== job insd/breakout-weekdays · EHCVM → sqlserver insd/sqlserver-insd
-- cannot plan this job: CSWeb has no dictionary EHCVM; it has: CENSUS
