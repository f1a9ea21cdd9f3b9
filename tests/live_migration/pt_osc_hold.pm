# A pt-online-schema-change plugin for tests/live_migration/osc_scenario.py: once the rows
# are copied (the triggers live, the tables not swapped yet), it prints "HELD" and waits
# for one byte on the FIFO named by QUARTBLOG_TEST_HOLD_FIFO, which the test writes once
# writes have been acknowledged meanwhile: those reach the new table through the triggers
# only.  No polling: a blocking read on the FIFO (opened read-write, so that the test can
# open it for writing at any time).
package pt_online_schema_change_plugin;

use strict;
use warnings;
use Fcntl;

sub new {
   my ($class, %args) = @_;
   return bless {}, $class;
}

sub after_copy_rows {
   my ($self, %args) = @_;
   my $fifo = $ENV{QUARTBLOG_TEST_HOLD_FIFO} or return;
   sysopen(my $fh, $fifo, O_RDWR) or die "cannot open $fifo: $!";
   local $| = 1;
   print "HELD after the copy, before the swap\n";
   my $byte;
   sysread($fh, $byte, 1);
   close($fh);
   return;
}

1;
