-- The design notes' eight metric questions, as Trino SQL, each asked twice for day D: from
-- Cassandra's metric table (cassandra-load's copy of daily-transform's answer for D) and computed
-- from the lake's posts up to D (lake.curated.post_history: every curated post once, on its first
-- day). On a consistent pipeline the two answers are the same rows.
--
-- D is yesterday (UTC), the day the daily run loads just after midnight: `current_date - INTERVAL
-- '1' DAY`. For another day put its date there, as DATE '2026-03-01'. Trino folds either into a
-- constant, so Cassandra is asked for that one partition (dt is the key) instead of being scanned.
--
-- Run one with `make sql`, or all with: stack/stack.sh sql -f sql/analytics.sql
-- Each query follows a line "-- <metric>: cassandra" or "-- <metric>: lake"; tests read them so.

-- ==============================================================================================
-- the category with the most posts in each country

-- popular_category_by_country: cassandra
SELECT country, category, category_count
FROM cassandra.pinpipe.metrics_popular_category_by_country
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY country;

-- popular_category_by_country: lake
SELECT country, category, category_count
FROM (
  SELECT country, category, category_count,
    row_number() OVER (PARTITION BY country ORDER BY category_count DESC, category) AS rank
  FROM (
    SELECT country, category, count(*) AS category_count
    FROM lake.curated.post_history
    WHERE dt <= current_date - INTERVAL '1' DAY AND category IS NOT NULL
    GROUP BY 1, 2
  )
  WHERE country IS NOT NULL
)
WHERE rank = 1
ORDER BY country;

-- ==============================================================================================
-- posts per category per year of the post (geo event time)

-- posts_per_category_year: cassandra
SELECT post_year, category, category_count
FROM cassandra.pinpipe.metrics_posts_per_category_year
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY post_year, category;

-- posts_per_category_year: lake
SELECT CAST(year(event_time) AS integer) AS post_year, category, count(*) AS category_count
FROM lake.curated.post_history
WHERE dt <= current_date - INTERVAL '1' DAY AND event_time IS NOT NULL AND category IS NOT NULL
GROUP BY 1, 2
ORDER BY post_year, category;

-- ==============================================================================================
-- the poster with the most followers in each country

-- most_followed_by_country: cassandra
SELECT country, poster_name, follower_count
FROM cassandra.pinpipe.metrics_most_followed_by_country
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY country;

-- most_followed_by_country: lake
SELECT country, poster_name, follower_count
FROM (
  SELECT country, poster_name, follower_count,
    row_number() OVER (PARTITION BY country ORDER BY follower_count DESC, poster_name) AS rank
  FROM (
    SELECT country, poster_name, max(follower_count) AS follower_count
    FROM lake.curated.post_history
    WHERE dt <= current_date - INTERVAL '1' DAY AND country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL
    GROUP BY 1, 2
  )
)
WHERE rank = 1
ORDER BY country;

-- ==============================================================================================
-- the category with the most posts in each age group (18-24, 25-35, 36-50, 50+, under 18)

-- popular_category_by_age_group: cassandra
SELECT age_group, category, category_count
FROM cassandra.pinpipe.metrics_popular_category_by_age_group
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY age_group;

-- popular_category_by_age_group: lake
SELECT age_group, category, category_count
FROM (
  SELECT age_group, category, category_count,
    row_number() OVER (PARTITION BY age_group ORDER BY category_count DESC, category) AS rank
  FROM (
    SELECT CASE WHEN age IS NULL THEN NULL WHEN age < 18 THEN 'under 18' WHEN age <= 24 THEN '18-24' WHEN age <= 35 THEN '25-35' WHEN age <= 50 THEN '36-50' ELSE '50+' END AS age_group, category, count(*) AS category_count
    FROM lake.curated.post_history
    WHERE dt <= current_date - INTERVAL '1' DAY AND category IS NOT NULL
    GROUP BY 1, 2
  )
  WHERE age_group IS NOT NULL
)
WHERE rank = 1
ORDER BY age_group;

-- ==============================================================================================
-- median follower count per age group

-- median_followers_by_age_group: cassandra
SELECT age_group, median_follower_count, post_count
FROM cassandra.pinpipe.metrics_median_followers_by_age_group
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY age_group;

-- median_followers_by_age_group: lake
SELECT age_group, avg(follower_count) AS median_follower_count, max(post_count) AS post_count
FROM (
  SELECT age_group, follower_count,
    row_number() OVER (PARTITION BY age_group ORDER BY follower_count) AS position,
    count(*) OVER (PARTITION BY age_group) AS post_count
  FROM (SELECT CASE WHEN age IS NULL THEN NULL WHEN age < 18 THEN 'under 18' WHEN age <= 24 THEN '18-24' WHEN age <= 35 THEN '25-35' WHEN age <= 50 THEN '36-50' ELSE '50+' END AS age_group, follower_count FROM lake.curated.post_history WHERE dt <= current_date - INTERVAL '1' DAY AND follower_count IS NOT NULL)
  WHERE age_group IS NOT NULL
)
-- The middle value, or the mean of the two middle ones for an even count (as DuckDB's median).
WHERE position IN ((post_count + 1) / 2, (post_count + 2) / 2)
GROUP BY age_group
ORDER BY age_group;

-- ==============================================================================================
-- median follower count per year the user joined

-- median_followers_by_join_year: cassandra
SELECT join_year, median_follower_count, post_count
FROM cassandra.pinpipe.metrics_median_followers_by_join_year
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY join_year;

-- median_followers_by_join_year: lake
SELECT join_year, avg(follower_count) AS median_follower_count, max(post_count) AS post_count
FROM (
  SELECT join_year, follower_count,
    row_number() OVER (PARTITION BY join_year ORDER BY follower_count) AS position,
    count(*) OVER (PARTITION BY join_year) AS post_count
  FROM (SELECT CAST(year(date_joined) AS integer) AS join_year, follower_count FROM lake.curated.post_history WHERE dt <= current_date - INTERVAL '1' DAY AND follower_count IS NOT NULL)
  WHERE join_year IS NOT NULL
)
-- The middle value, or the mean of the two middle ones for an even count (as DuckDB's median).
WHERE position IN ((post_count + 1) / 2, (post_count + 2) / 2)
GROUP BY join_year
ORDER BY join_year;

-- ==============================================================================================
-- median follower count per age group and join year

-- median_followers_by_age_group_join_year: cassandra
SELECT age_group, join_year, median_follower_count, post_count
FROM cassandra.pinpipe.metrics_median_followers_by_age_group_join_year
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY age_group, join_year;

-- median_followers_by_age_group_join_year: lake
SELECT age_group, join_year, avg(follower_count) AS median_follower_count, max(post_count) AS post_count
FROM (
  SELECT age_group, join_year, follower_count,
    row_number() OVER (PARTITION BY age_group, join_year ORDER BY follower_count) AS position,
    count(*) OVER (PARTITION BY age_group, join_year) AS post_count
  FROM (SELECT CASE WHEN age IS NULL THEN NULL WHEN age < 18 THEN 'under 18' WHEN age <= 24 THEN '18-24' WHEN age <= 35 THEN '25-35' WHEN age <= 50 THEN '36-50' ELSE '50+' END AS age_group, CAST(year(date_joined) AS integer) AS join_year, follower_count FROM lake.curated.post_history WHERE dt <= current_date - INTERVAL '1' DAY AND follower_count IS NOT NULL)
  WHERE age_group IS NOT NULL AND join_year IS NOT NULL
)
-- The middle value, or the mean of the two middle ones for an even count (as DuckDB's median).
WHERE position IN ((post_count + 1) / 2, (post_count + 2) / 2)
GROUP BY age_group, join_year
ORDER BY age_group, join_year;

-- ==============================================================================================
-- users (one per post) who joined in each year

-- users_joined_per_year: cassandra
SELECT join_year, users_joined
FROM cassandra.pinpipe.metrics_users_joined_per_year
WHERE dt = current_date - INTERVAL '1' DAY
ORDER BY join_year;

-- users_joined_per_year: lake
SELECT CAST(year(date_joined) AS integer) AS join_year, count(*) AS users_joined
FROM lake.curated.post_history
WHERE dt <= current_date - INTERVAL '1' DAY AND date_joined IS NOT NULL
GROUP BY 1
ORDER BY join_year;
