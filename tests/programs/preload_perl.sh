#!/bin/sh
# perl under LD_PRELOAD=libhakmem.so: a hash-heavy one-liner (a big hash
# of growing strings, sorting, deleting, nested structures, regexes);
# output identical to a run without hakmem, libhakmem.so really mapped.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need perl
hk_check_preload perl

# shellcheck disable=SC2016
PROG='
open(M, "<", "/proc/self/maps") or die; my $m = join("", <M>); close M;
open(O, ">>", $ARGV[0]) or die; print O ($m =~ /libhakmem\.so/ ? "hakmem mapped\n" : "hakmem not mapped\n"); close O;
my %h; my $n = 0;
for my $i (1..400000) { my $k = "k" . ($i * 7919 % 500009); $h{$k} .= $i; $n++ }
my $s = 0; $s += length($h{$_}) for sort keys %h;
print scalar(keys %h), " $s $n\n";
for my $k (keys %h) { delete $h{$k} if length($h{$k}) % 3 == 0 }
print scalar(keys %h), "\n";
my %deep; for my $i (1..100000) { push @{ $deep{$i % 997}{lists} }, [$i, "x" x ($i % 100)] }
my $t = 0; for my $k (sort { $a <=> $b } keys %deep) { $t += scalar @{ $deep{$k}{lists} } + length($deep{$k}{lists}[-1][1]) }
print "$t\n";
my $text = join(",", map { "w$_" x ($_ % 5) } 1..200000);
my %wc; $wc{$_}++ for split /,/, $text;
print join(" ", map { "$_=$wc{$_}" } (sort { $wc{$b} <=> $wc{$a} || $a cmp $b } keys %wc)[0..4]), "\n";
my @big = map { { id => $_, name => "n$_" } } 1..200000;
@big = sort { $b->{id} <=> $a->{id} } @big;
print "$big[0]{name} $big[-1]{name} ", scalar(@big), "\n";
'
hk_same perl-hashes perl -e "$PROG" "$HK_TMP/maps"
[ "$(sed -n 1p "$HK_TMP/maps")" = "hakmem not mapped" ] || hk_fail "perl without LD_PRELOAD: $(sed -n 1p "$HK_TMP/maps")"
[ "$(sed -n 2p "$HK_TMP/maps")" = "hakmem mapped" ] || hk_fail "perl under LD_PRELOAD did not have libhakmem.so mapped"
cat "$HK_TMP/perl-hashes.ref.out"
echo "perl: ok"
