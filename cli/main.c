/* atcr-verify: verify ATProto signatures of container images. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return atv_cli_run(argc, argv, stdout, stderr);
}
