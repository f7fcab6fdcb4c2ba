/**
 * Who posts, and from where. Country weights follow Pinterest's audience roughly (the United
 * States far ahead); coordinates are a centre and a spread in degrees, enough for realistic-looking
 * points. Age groups are the four the metrics use.
 */
export const COUNTRIES = [
  { name: 'United States of America', weight: 30, lat: 39.8, lon: -98.6, spread: 8 },
  { name: 'Brazil', weight: 8, lat: -10.3, lon: -53.2, spread: 6 },
  { name: 'India', weight: 7, lat: 22.3, lon: 79.0, spread: 5 },
  { name: 'Mexico', weight: 6, lat: 23.6, lon: -102.5, spread: 4 },
  { name: 'Germany', weight: 5, lat: 51.1, lon: 10.4, spread: 2 },
  { name: 'France', weight: 5, lat: 46.6, lon: 2.4, spread: 2 },
  { name: 'United Kingdom', weight: 5, lat: 54.0, lon: -2.5, spread: 2 },
  { name: 'Canada', weight: 4, lat: 56.1, lon: -106.3, spread: 8 },
  { name: 'Japan', weight: 3, lat: 36.2, lon: 138.3, spread: 3 },
  { name: 'Italy', weight: 3, lat: 42.8, lon: 12.6, spread: 2 },
  { name: 'Spain', weight: 3, lat: 40.4, lon: -3.7, spread: 2 },
  { name: 'Australia', weight: 3, lat: -25.3, lon: 133.8, spread: 8 },
  { name: 'Philippines', weight: 2, lat: 12.9, lon: 121.8, spread: 3 },
  { name: 'Indonesia', weight: 2, lat: -0.8, lon: 113.9, spread: 5 },
  { name: 'Argentina', weight: 2, lat: -38.4, lon: -63.6, spread: 5 },
  { name: 'Poland', weight: 2, lat: 51.9, lon: 19.1, spread: 2 },
  { name: 'Netherlands', weight: 1, lat: 52.1, lon: 5.3, spread: 1 },
  { name: 'Colombia', weight: 1, lat: 4.6, lon: -74.3, spread: 3 },
  { name: 'Turkey', weight: 1, lat: 38.9, lon: 35.2, spread: 3 },
  { name: 'Nigeria', weight: 1, lat: 9.1, lon: 8.7, spread: 3 },
  { name: 'South Africa', weight: 1, lat: -30.6, lon: 22.9, spread: 3 },
  { name: 'Sweden', weight: 1, lat: 60.1, lon: 18.6, spread: 3 },
  { name: 'Antarctica (the territory South of 60 deg S)', weight: 0.5, lat: -75.3, lon: 0.0, spread: 10 },
] as const;

export const AGE_GROUPS = [
  { name: '18-24', min: 18, max: 24, weight: 30 },
  { name: '25-35', min: 25, max: 35, weight: 35 },
  { name: '36-50', min: 36, max: 50, weight: 22 },
  { name: '50+', min: 51, max: 75, weight: 13 },
] as const;

export const FIRST_NAMES = [
  'Abigail', 'Alexandra', 'Amanda', 'Andrea', 'Andrew', 'Angela', 'Anthony', 'Ashley', 'Brian', 'Brittany',
  'Carlos', 'Charles', 'Christopher', 'Daniel', 'David', 'Elizabeth', 'Emily', 'Emma', 'Eric', 'Gabriel',
  'Hannah', 'Isabella', 'Jacob', 'James', 'Jennifer', 'Jessica', 'John', 'Joseph', 'Joshua', 'Julia',
  'Karen', 'Kevin', 'Laura', 'Linda', 'Lucas', 'Maria', 'Mark', 'Matthew', 'Megan', 'Michael',
  'Michelle', 'Nicole', 'Noah', 'Olivia', 'Patricia', 'Rachel', 'Rebecca', 'Robert', 'Samantha', 'Sarah',
  'Sophia', 'Stephanie', 'Thomas', 'Tiffany', 'Victoria', 'William', 'Yuki', 'Zoe', 'Priya', 'Mateo',
] as const;

export const LAST_NAMES = [
  'Adams', 'Allen', 'Anderson', 'Bailey', 'Baker', 'Brown', 'Campbell', 'Carter', 'Clark', 'Collins',
  'Cooper', 'Davis', 'Edwards', 'Evans', 'Flores', 'Garcia', 'Gonzalez', 'Green', 'Hall', 'Harris',
  'Hernandez', 'Hill', 'Jackson', 'Johnson', 'Jones', 'King', 'Lee', 'Lewis', 'Lopez', 'Martin',
  'Martinez', 'Miller', 'Mitchell', 'Moore', 'Morris', 'Nelson', 'Nguyen', 'Parker', 'Perez', 'Phillips',
  'Ramirez', 'Roberts', 'Robinson', 'Rodriguez', 'Sanchez', 'Scott', 'Smith', 'Stewart', 'Taylor', 'Thomas',
  'Thompson', 'Torres', 'Turner', 'Walker', 'White', 'Williams', 'Wilson', 'Wright', 'Young', 'Tanaka',
] as const;
