import type { Post } from '../emulate/generator.js';

/**
 * The eight metrics of the design notes computed in plain TypeScript from generated posts, apart
 * from any SQL: what daily-transform's metric tables, and the same questions asked through
 * Trino, are checked against.
 */

export interface Row {
  uniqueId: string;
  day: string;
  category: string;
  country: string;
  posterName: string | null;
  followers: number | null;
  eventYear: number;
  age: number;
  joinYear: number;
}

function followers(value: string | number): number | null {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)([kMB]?)$/.exec(value);
  if (!m) return null;
  const scale = { '': 1, k: 1e3, M: 1e6, B: 1e9 }[m[2] as '' | 'k' | 'M' | 'B'];
  return Math.round(Number(m[1]) * scale);
}

function ageGroup(age: number): string {
  if (age < 18) return 'under 18';
  if (age <= 24) return '18-24';
  if (age <= 35) return '25-35';
  if (age <= 50) return '36-50';
  return '50+';
}

export function postRows(posts: Post[], day: string): Row[] {
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const { pin, geo, user } of posts) {
    if (seen.has(pin.unique_id)) continue;
    seen.add(pin.unique_id);
    rows.push({
      uniqueId: pin.unique_id,
      day,
      category: pin.category,
      country: geo.country,
      posterName: pin.poster_name === 'User Info Error' || pin.poster_name === undefined ? null : pin.poster_name,
      followers: followers(pin.follower_count),
      eventYear: Number(geo.timestamp.slice(0, 4)),
      age: user.age,
      joinYear: Number(user.date_joined.slice(0, 4)),
    });
  }
  return rows;
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

function countBy<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return groups;
}

function topCategory(rows: Row[], group: (r: Row) => string, name: string) {
  return [...countBy(rows, group).entries()]
    .map(([g, members]) => {
      const counts = [...countBy(members, (r) => r.category).entries()].map(([c, m]) => ({ c, n: m.length }));
      counts.sort((a, b) => b.n - a.n || cmp(a.c, b.c));
      return { [name]: g, category: counts[0]?.c, category_count: counts[0]?.n };
    })
    .sort((a, b) => cmp(a[name] as string, b[name] as string));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function medians(rows: Row[], keys: Array<[string, (r: Row) => string | number]>) {
  const withCount = rows.filter((r) => r.followers !== null);
  return [...countBy(withCount, (r) => JSON.stringify(keys.map(([, k]) => k(r)))).entries()]
    .map(([k, members]): Record<string, string | number> => {
      const values = JSON.parse(k) as Array<string | number>;
      return {
        ...Object.fromEntries(keys.map(([name], i) => [name, values[i]])),
        median_follower_count: median(members.map((m) => m.followers as number)),
        post_count: members.length,
      };
    })
    .sort((a, b) => keys.reduce((acc, [name]) => acc || cmp(a[name] as string | number, b[name] as string | number), 0));
}

export function expectedMetrics(rows: Row[]): Record<string, unknown[]> {
  return {
    popular_category_by_country: topCategory(rows, (r) => r.country, 'country'),
    posts_per_category_year: [...countBy(rows, (r) => `${r.eventYear}|${r.category}`).entries()]
      .map(([k, m]) => ({ post_year: Number(k.split('|')[0]), category: k.split('|')[1], category_count: m.length }))
      .sort((a, b) => a.post_year - b.post_year || cmp(a.category as string, b.category as string)),
    most_followed_by_country: [...countBy(rows.filter((r) => r.posterName !== null && r.followers !== null), (r) => r.country).entries()]
      .map(([country, members]) => {
        const best = [...members].sort((a, b) => (b.followers as number) - (a.followers as number) || cmp(a.posterName as string, b.posterName as string))[0] as Row;
        return { country, poster_name: best.posterName, follower_count: best.followers };
      })
      .sort((a, b) => cmp(a.country, b.country)),
    popular_category_by_age_group: topCategory(rows, (r) => ageGroup(r.age), 'age_group'),
    median_followers_by_age_group: medians(rows, [['age_group', (r) => ageGroup(r.age)]]),
    median_followers_by_join_year: medians(rows, [['join_year', (r) => r.joinYear]]),
    median_followers_by_age_group_join_year: medians(rows, [
      ['age_group', (r) => ageGroup(r.age)],
      ['join_year', (r) => r.joinYear],
    ]),
    users_joined_per_year: [...countBy(rows, (r) => String(r.joinYear)).entries()]
      .map(([y, m]) => ({ join_year: Number(y), users_joined: m.length }))
      .sort((a, b) => a.join_year - b.join_year),
  };
}
