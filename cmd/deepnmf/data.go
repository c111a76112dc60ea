package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
)

func init() { subcommands = append(subcommands, newDataCmd) }

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Download and check the datasets (CIFAR-10, MNIST, Fashion-MNIST)",
		Long: `Download and check the datasets.

The data directory is --data-dir, else $` + data.EnvDataDir + `, else <user cache dir>/deepnmf.
Each dataset has its own folder there with the official file names:
  cifar10/cifar-10-binary.tar.gz  (or the extracted cifar10/cifar-10-batches-bin/)
  mnist/*-ubyte.gz
  fashion-mnist/*-ubyte.gz
The archives are read as they are; nothing needs unpacking.`,
	}
	cmd.AddCommand(newDataVerifyCmd(), newDataFetchCmd())
	return cmd
}

func datasetNames() string { return strings.Join(data.Names(), "|") }

func newDataVerifyCmd() *cobra.Command {
	var name, dir string
	cmd := &cobra.Command{
		Use:   "verify --dataset " + datasetNames() + " [--data-dir DIR]",
		Short: "Read a whole dataset and check its structure and class counts",
		Long: `Read every file of a dataset, check its structure (archive members, headers,
record sizes, labels, image/label counts) and compare the number of images of
each class with the official dataset. Prints the counts per split and class;
exits non-zero on any defect. Checksums of the archives are not checked here
(fetch does that).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := data.ResolveDir(dir)
			if err != nil {
				return err
			}
			return verifyDataset(cmd.OutOrStdout(), name, root)
		},
	}
	cmd.Flags().StringVar(&name, "dataset", "", "dataset: "+datasetNames())
	cmd.Flags().StringVar(&dir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	cmd.MarkFlagRequired("dataset")
	return cmd
}

func newDataFetchCmd() *cobra.Command {
	var name, dir, baseURL string
	cmd := &cobra.Command{
		Use:   "fetch --dataset " + datasetNames() + " [--data-dir DIR] [--base-url URL]",
		Short: "Download a dataset's official files, check their MD5s, then verify it",
		Long: `Download the official archives of a dataset into <data dir>/<dataset>/ and
check them against the published MD5 sums:
  cifar10        https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
  mnist          the 4 IDX .gz files (the mirror torchvision uses, then yann.lecun.com)
  fashion-mnist  the 4 IDX .gz files from the Fashion-MNIST site
Files already present with the right checksum are kept; with an extracted
cifar10/cifar-10-batches-bin/ present (which the loader reads instead), the
CIFAR-10 archive is not downloaded and only the verification runs. Bytes go to <file>.part
and the file gets its final name only after its checksum matched, so an
interrupted download never leaves a broken file; running fetch again resumes
it (HTTP Range). A mirror replaces the official location with --base-url or
$DEEPNMF_<DATASET>_URL (e.g. DEEPNMF_FASHION_MNIST_URL); file f is then
fetched from <url>/f. After the download the dataset is verified as by
'deepnmf data verify'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := data.Lookup(name); err != nil {
				return err
			}
			root, err := data.ResolveDir(dir)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opt := data.FetchOptions{BaseURL: baseURL, Log: cmd.ErrOrStderr()}
			if err := data.Fetch(ctx, name, root, opt); err != nil {
				return err
			}
			return verifyDataset(cmd.OutOrStdout(), name, root)
		},
	}
	cmd.Flags().StringVar(&name, "dataset", "", "dataset: "+datasetNames())
	cmd.Flags().StringVar(&dir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "fetch the files from this base URL instead of the official location")
	cmd.MarkFlagRequired("dataset")
	return cmd
}

// verifyDataset loads a dataset, prints its images per split and class, and
// fails on any defect or count that differs from the official dataset.
func verifyDataset(w io.Writer, name, root string) error {
	ds, err := data.Load(name, root)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (%d×%d×%d, %d classes) from %s\n", ds.Title, ds.Channels, ds.Size, ds.Size, ds.NumClasses(), ds.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	train, test := ds.Train.ClassCounts(ds.NumClasses()), ds.Test.ClassCounts(ds.NumClasses())
	fmt.Fprintln(tw, "class\tname\ttrain\ttest\t")
	for k, c := range ds.Classes {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t\n", k, c, train[k], test[k])
	}
	fmt.Fprintf(tw, "all\t\t%d\t%d\t\n", ds.Train.N, ds.Test.N)
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := data.CheckOfficial(ds); err != nil {
		return fmt.Errorf("%s differs from the official dataset:\n%w", name, err)
	}
	fmt.Fprintf(w, "OK: structure and class counts match the official %s\n", ds.Title)
	return nil
}
