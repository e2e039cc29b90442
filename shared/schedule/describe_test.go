package schedule

import "testing"

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, want string }{
		{"rate(1 minute)", "Every minute"},
		{"rate(5 minutes)", "Every 5 minutes"},
		{"rate(90 minutes)", "Every 90 minutes"},
		{"rate(60 minutes)", "Every hour"},
		{"rate(1 hour)", "Every hour"},
		{"rate(12 hours)", "Every 12 hours"},
		{"rate(48 hours)", "Every 2 days"},
		{"rate(1 day)", "Every day"},
		{"rate(7 days)", "Every 7 days"},

		{"cron(* * * * ? *)", "Every minute"},
		{"cron(0/5 * * * ? *)", "Every 5 minutes"},
		{"cron(*/15 * * * ? *)", "Every 15 minutes"},
		{"cron(0/7 * * * ? *)", "Every 7 minutes from minute 0 through 56"},
		{"cron(1/10 * * * ? *)", "Every 10 minutes from minute 1 through 51"},
		{"cron(10-20 * * * ? *)", "Every minute from minute 10 through 20"},
		{"cron(50-10/5 * * * ? *)", "Every 5 minutes from minute 50 through 10"},
		{"cron(0 12 * * ? *)", "At 12:00 UTC"},
		{"cron(15 10 ? * 6L *)", "At 10:15 UTC on the last Friday of the month"},
		{"cron(0 8,12,17 ? * SAT,SUN *)", "At 08:00, 12:00 and 17:00 UTC on Saturday and Sunday"},
		{"cron(0 22-1 * * ? *)", "At 22:00, 23:00, 00:00 and 01:00 UTC"},
		{"cron(15 * * * ? *)", "At minute 15 past every hour"},
		{"cron(0,30 * * * ? *)", "At minutes 0 and 30 past every hour"},
		{"cron(0 9-17 ? * MON-FRI *)", "At minute 0 past every hour between 09:00 and 17:59 UTC, Monday through Friday"},
		{"cron(0/30 20-2 ? * MON-FRI *)", "Every 30 minutes between 20:00 and 02:59 UTC, Monday through Friday"},
		{"cron(0/5 8-11,14-17 * * ? *)", "Every 5 minutes during 08:00-11:59 and 14:00-17:59 UTC"},
		{"cron(0 */2 * * ? *)", "At minute 0 in every 2nd hour from 00:00 through 22:59 UTC"},
		{"cron(5,10-20 9-17 * * ? *)", "At minutes 5 and 10 through 20 past every hour between 09:00 and 17:59 UTC"},

		{"cron(0 0 1 * ? *)", "At 00:00 UTC on day 1 of the month"},
		{"cron(0 0 1,15 * ? *)", "At 00:00 UTC on days 1 and 15 of the month"},
		{"cron(0 0 28-3 * ? *)", "At 00:00 UTC on days 1 through 3 and 28 through 31 of the month"},
		{"cron(0 0 */2 * ? *)", "At 00:00 UTC on every 2nd day of the month from day 1 through 31"},
		{"cron(0 0 L * ? *)", "At 00:00 UTC on the last day of the month"},
		{"cron(0 0 L-1 * ? *)", "At 00:00 UTC on the 2nd-to-last day of the month"},
		{"cron(0 0 L-2 * ? *)", "At 00:00 UTC on the 3rd-to-last day of the month"},
		{"cron(0 12 15W * ? *)", "At 12:00 UTC on the weekday nearest day 15 of the month"},
		{"cron(0 0 LW * ? *)", "At 00:00 UTC on the last weekday of the month"},
		{"cron(0 0 ? * TUE#5 *)", "At 00:00 UTC on the fifth Tuesday of the month"},
		{"cron(0 9 ? * 2#1 *)", "At 09:00 UTC on the first Monday of the month"},
		{"cron(0 0 ? * L *)", "At 00:00 UTC on Saturday"},
		{"cron(0 12 ? * FRI-MON *)", "At 12:00 UTC, Friday through Monday"},
		{"cron(0 12 ? * 1-7 *)", "At 12:00 UTC, Sunday through Saturday"},

		{"cron(0 0 29 2 ? *)", "At 00:00 UTC on day 29 of the month, only in February"},
		{"cron(0 0 1 NOV-FEB ? *)", "At 00:00 UTC on day 1 of the month, only in November through February"},
		{"cron(0 0 1 1/3 ? *)", "At 00:00 UTC on day 1 of the month, only in January, April, July and October"},
		{"cron(0 0 1 1 ? 2030)", "At 00:00 UTC on day 1 of the month, only in January, in 2030"},
		{"cron(15 10 ? * 6L 2022-2023)", "At 10:15 UTC on the last Friday of the month, in 2022 and 2023"},
		{"cron(0 0 1 1 ? 2025-2030,2040)", "At 00:00 UTC on day 1 of the month, only in January, in 2025 through 2030 and 2040"},
		{"cron(0 0 1 1 ? 2020/10)", "At 00:00 UTC on day 1 of the month, only in January, every 10th year from 2020 through 2190"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			if got := mustParse(t, tt.expr).Describe(); got != tt.want {
				t.Errorf("Describe(%s)\n got: %s\nwant: %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestOrdinal(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 23: "23rd", 30: "30th", 101: "101st", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}
