// A verification worker for test/verify/pool.test.ts that dies at start-up (a broken install).
process.exit(3);
