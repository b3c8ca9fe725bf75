use strict; use warnings;
my %index;
for my $i (0 .. 80000) {
  my $key = sprintf("k%03d", ($i * 31) % 997);
  push @{ $index{$key} }, $i % 1009;
}
my @keys = sort { scalar(@{ $index{$b} }) <=> scalar(@{ $index{$a} }) or $a cmp $b } keys %index;
print "keys ", scalar(@keys), " first $keys[0] last $keys[-1]\n";
my $text = join(" ", map { "word$_" } 1 .. 20000);
my $count = () = $text =~ /word\d*7\b/g;
print "matches $count\n";
my @records = map { { id => $_, name => "n$_", score => ($_ * 13) % 101 } } 1 .. 10000;
my @top = (sort { $b->{score} <=> $a->{score} or $a->{id} <=> $b->{id} } @records)[0 .. 4];
print join(",", map { "$_->{name}:$_->{score}" } @top), "\n";
(my $copy = $text) =~ s/word(\d+)/W$1/g;
print length($copy), "\n";
