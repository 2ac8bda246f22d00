import unittest

from analysis import Counts


class CountsTest(unittest.TestCase):
    def test_counts_bytes_lines_and_their_sum_across_chunks(self):
        c = Counts()
        c.add(b"ab\n")
        c.add(b"c\n")
        self.assertEqual(c, Counts(bytes=5, lines=2, sum=97 + 98 + 10 + 99 + 10))


if __name__ == "__main__":
    unittest.main()
