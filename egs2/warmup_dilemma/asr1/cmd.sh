# cmd.sh: how the paper recipe runs its jobs (sourced by asr.sh). At paper scale (16 GPUs:
# ./run.sh --ngpu 4 --num_nodes 4) use the Slurm backend: CMD_BACKEND=slurm ./run.sh ...
# conf/slurm.conf links to egs2/TEMPLATE/asr1/conf/slurm.conf (shared by every recipe dir);
# edit the partition names there for your site.
# Kaldi/ESPnet convention:
# ${train_cmd} for data prep and statistics, ${cuda_cmd} for training (espnet2.bin.launch
# adds --gpu N), ${decode_cmd} for decoding. Each is a launcher with Kaldi's interface:
#     <launcher> [options] [JOB=1:N] <log> <command...>
#
# cmd_backend (override with the environment variable CMD_BACKEND):
#   local  run.pl: jobs run on this machine (default)
#   slurm  slurm.pl: jobs are submitted with sbatch; partitions/resources from conf/slurm.conf
cmd_backend=${CMD_BACKEND:-local}

if [ "${cmd_backend}" = local ]; then
    # --max-jobs-run would cap concurrency; by default run.pl uses the number of CPUs.
    export train_cmd="run.pl"
    export cuda_cmd="run.pl"
    export decode_cmd="run.pl"
elif [ "${cmd_backend}" = slurm ]; then
    export train_cmd="slurm.pl --config conf/slurm.conf"
    export cuda_cmd="slurm.pl --config conf/slurm.conf"
    export decode_cmd="slurm.pl --config conf/slurm.conf"
else
    echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (expected local or slurm)" >&2
    return 1
fi
