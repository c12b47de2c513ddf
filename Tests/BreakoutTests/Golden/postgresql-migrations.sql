ALTER TABLE "census"."person" ALTER COLUMN "p01_name" TYPE VARCHAR(45);
ALTER TABLE "census"."housing" ALTER COLUMN "h02_rooms" TYPE BIGINT;
DROP SCHEMA IF EXISTS "census" CASCADE;
ALTER SCHEMA "census__next" RENAME TO "census";
