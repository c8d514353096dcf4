#!/usr/bin/perl
# btrbk-schedule.pl [BTRBK]: decides retention cases with the installed
# btrbk's own code, for the differential test in ../btrbk_test.go.
#
# It loads BTRBK (default /usr/bin/btrbk) unmodified up to its MAIN block, so
# every function below is btrbk's: append_config_option parses the preserve
# settings as btrbk.conf would, add_btrbk_filename_info parses the snapshot
# names (Time::Local, the host's zone database), and schedule() decides, with
# preserve_date_in_future as btrbk's deletion does. Only the reference time
# is set here, the way btrbk's MAIN sets it: @tm_now = localtime(now).
#
# Input, one JSON object a line:
#   {"id":1, "tz":"Europe/Oslo", "now":1700000000, "subvol":"home",
#    "names":["home.20231114T2200", ...], "preserve":"7d 4w *m", "min":"latest",
#    "dow":"monday", "hod":3}
# "preserve" and "min" are btrbk.conf values of target_preserve and
# target_preserve_min ("no" for none); the target_ options are used because
# unlike snapshot_preserve_min they accept "no" and 0, and they feed the same
# schedule().
# Output, one line a case:
#   {"id":1, "keep":[...], "delete":[...], "ignored":[...]}
# "ignored" are names btrbk does not read as snapshots of subvol.
use strict;
use warnings;

my $btrbk = shift // '/usr/bin/btrbk';
open(my $fh, '<', $btrbk) or die "btrbk-schedule: $btrbk: $!\n";
my $src = do { local $/; <$fh> };
close($fh);
my $main = index($src, "\nMAIN:\n");
die "btrbk-schedule: $btrbk has no MAIN: block; not a btrbk this harness knows\n" if $main < 0;

# The driver is compiled in the same scope as btrbk's file-level variables
# (@tm_now, $loglevel), which are lexicals and unreachable from outside.
my $driver = <<'DRIVER';
use JSON::PP ();
use POSIX ();

$loglevel = 0;  # "Illegal timestamp" warnings: the test compares "ignored" instead
my $json = JSON::PP->new->canonical;
while(my $line = <STDIN>) {
  my $c = $json->decode($line);
  $ENV{TZ} = $c->{tz};
  POSIX::tzset();
  @tm_now = localtime($c->{now});

  my $config = {};
  foreach my $opt ([target_preserve => $c->{preserve}], [target_preserve_min => $c->{min}],
                   [preserve_day_of_week => $c->{dow}], [preserve_hour_of_day => $c->{hod}]) {
    append_config_option($config, $opt->[0], "$opt->[1]", "OVERRIDE")
      or die "btrbk-schedule: case $c->{id}: btrbk rejects $opt->[0] \"$opt->[1]\"\n";
  }
  my $preserve = config_preserve_hash($config, "target");

  my (@schedule, @ignored);
  foreach my $name (@{$c->{names}}) {
    my $node = add_btrbk_filename_info({ REL_PATH => $name });
    if($node && ($node->{BTRBK_BASENAME} eq $c->{subvol})) {
      push @schedule, { value => $name, btrbk_date => $node->{BTRBK_DATE} };
    } else {
      push @ignored, $name;
    }
  }
  my ($keep, $delete) = schedule(schedule => \@schedule, preserve => $preserve, preserve_date_in_future => 1);
  print $json->encode({ id => $c->{id}, keep => $keep, delete => $delete, ignored => \@ignored }), "\n";
}
DRIVER

eval(substr($src, 0, $main) . "\n" . $driver . "\n1;\n") or die "btrbk-schedule: $@";
